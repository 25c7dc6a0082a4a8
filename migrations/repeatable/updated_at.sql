-- updated_at follows every change to a driver's row and to a day's progress row.

CREATE OR REPLACE FUNCTION touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

CREATE OR REPLACE TRIGGER driver_targets_touch BEFORE UPDATE ON driver_targets
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

CREATE OR REPLACE TRIGGER driver_days_touch BEFORE UPDATE ON driver_days
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
