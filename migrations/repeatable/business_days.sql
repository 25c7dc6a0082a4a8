-- Business days: dates in the fleet's time zone, and the business_days rows that progress and
-- active time lock so that no snapshot closes a day under them.

-- Today's business date in the fleet's time zone, by the database clock (one clock for every
-- instance, unlike each server's CURRENT_DATE in its own zone).
CREATE OR REPLACE FUNCTION business_today(tz TEXT) RETURNS DATE
LANGUAGE sql STABLE PARALLEL SAFE
RETURN (now() AT TIME ZONE tz)::date;

-- The first moment of a business date in the fleet's time zone.
CREATE OR REPLACE FUNCTION business_day_start(p_date DATE, p_timezone TEXT) RETURNS TIMESTAMPTZ
LANGUAGE sql STABLE PARALLEL SAFE
RETURN p_date::timestamp AT TIME ZONE p_timezone;

-- Locks (creating if need be) the business_days row of one date so it cannot be closed under the
-- caller's transaction; answers whether it is already closed. A past date that never opened while
-- a later date is already closed (the service was not running then, or that night's snapshot
-- never ran and a later one did) is no day to count on: an event for it would open a progress
-- row that no snapshot would ever close, and its progress would show nowhere. A past date opened
-- before any later one closed is fine: the next snapshot closes every open day before its own
-- (shared/fleet/days/snapshot.py).
CREATE OR REPLACE FUNCTION lock_business_day(p_date DATE) RETURNS BOOLEAN
LANGUAGE plpgsql AS $$
DECLARE
    v_closed TIMESTAMPTZ;
BEGIN
    SELECT closed_at INTO v_closed FROM business_days WHERE business_date = p_date FOR KEY SHARE;
    IF NOT FOUND THEN
        IF EXISTS (SELECT 1 FROM business_days b
                   WHERE b.business_date > p_date AND b.closed_at IS NOT NULL) THEN
            RAISE EXCEPTION 'business day % was never opened and later days are closed', p_date
                USING ERRCODE = 'FTNSD';
        END IF;
        INSERT INTO business_days (business_date) VALUES (p_date) ON CONFLICT DO NOTHING;
        SELECT closed_at INTO v_closed FROM business_days WHERE business_date = p_date FOR KEY SHARE;
    END IF;
    RETURN v_closed IS NOT NULL;
END;
$$;

-- The business days [p_from, p_to) touches that can take active time, each locked FOR KEY SHARE
-- (so no snapshot closes it meanwhile) with its closed_at. A day that never opened while a
-- later day is already closed is left out: no snapshot would ever close a row opened for it.
CREATE OR REPLACE FUNCTION lock_active_days(p_from TIMESTAMPTZ, p_to TIMESTAMPTZ, p_timezone TEXT)
RETURNS TABLE (business_date DATE, closed_at TIMESTAMPTZ)
LANGUAGE plpgsql AS $$
DECLARE
    v_day DATE;
BEGIN
    IF p_from IS NULL OR p_to <= p_from THEN
        RETURN;
    END IF;
    FOR v_day IN
        SELECT generate_series((p_from AT TIME ZONE p_timezone)::date,
                               (p_to AT TIME ZONE p_timezone)::date, interval '1 day')::date
    LOOP
        SELECT b.closed_at INTO closed_at FROM business_days b
        WHERE b.business_date = v_day FOR KEY SHARE;
        IF NOT FOUND THEN
            CONTINUE WHEN EXISTS (SELECT 1 FROM business_days b
                                  WHERE b.business_date > v_day AND b.closed_at IS NOT NULL);
            INSERT INTO business_days AS b (business_date) VALUES (v_day) ON CONFLICT DO NOTHING;
            SELECT b.closed_at INTO closed_at FROM business_days b
            WHERE b.business_date = v_day FOR KEY SHARE;
        END IF;
        business_date := v_day;
        RETURN NEXT;
    END LOOP;
END;
$$;
