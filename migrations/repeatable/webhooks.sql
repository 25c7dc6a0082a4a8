-- Webhook events: recorded in the outbox of 0003 by the transaction of the change that causes
-- them (these triggers on the progress rows, the snapshot's own transaction for day_closed).

-- Records one event (once per dedupe_key) and a pending delivery for every subscription to its
-- type. Concurrent callers with the same key: the unique index makes all but one do nothing.
CREATE OR REPLACE FUNCTION emit_webhook_event(p_type TEXT, p_dedupe_key TEXT, p_data JSONB)
RETURNS UUID
LANGUAGE plpgsql AS $$
DECLARE
    v_id UUID;
BEGIN
    INSERT INTO webhook_events (event_type, dedupe_key, data)
    VALUES (p_type, p_dedupe_key, p_data)
    ON CONFLICT ON CONSTRAINT webhook_events_dedupe_key DO NOTHING
    RETURNING id INTO v_id;
    IF v_id IS NOT NULL THEN
        INSERT INTO webhook_deliveries (event_id, subscription_id)
        SELECT v_id, s.id FROM webhook_subscriptions s WHERE p_type = ANY (s.events);
    END IF;
    RETURN v_id;
END;
$$;

-- The team is the day row's own (a day keeps the team the driver had that day).
CREATE OR REPLACE FUNCTION note_target_reached(
    p_driver_id TEXT, p_date DATE, p_target TEXT, p_value NUMERIC, p_target_value NUMERIC,
    p_team TEXT
) RETURNS UUID
LANGUAGE sql AS $$
SELECT emit_webhook_event(
    'target_reached',
    concat_ws('/', 'target_reached', p_target, p_date, p_driver_id),
    jsonb_build_object('driver_id', p_driver_id, 'date', p_date, 'target', p_target,
                       'value', p_value, 'target_value', p_target_value, 'team', p_team))
$$;

-- A target is reached when a total crosses it from below (a zero target is no goal: no event).
-- A dip below and a rise again crosses twice; the dedupe key keeps it to one event. The trigger
-- WHEN clauses use it too: a simple SQL function, so the planner inlines it there, and the
-- common case (no crossing) still calls no function.
CREATE OR REPLACE FUNCTION crosses_target(p_before NUMERIC, p_after NUMERIC, p_target NUMERIC)
RETURNS BOOLEAN
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN p_target > 0 AND p_after >= p_target AND p_before < p_target;

-- Money in the form the API writes it (shared/web/endpoint.py prints a NUMERIC as a Python
-- float): the shortest digits with at least one decimal, 120.00 -> 120.0, 42.50 -> 42.5. JSONB
-- keeps a numeric's scale as it is given, so without this a receiver would see 120.00 where the
-- API answers 120.0 for the same amount.
CREATE OR REPLACE FUNCTION json_money(p_amount NUMERIC) RETURNS NUMERIC
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN round(trim_scale(p_amount), greatest(scale(trim_scale(p_amount)), 1));

CREATE OR REPLACE FUNCTION note_targets_crossed(
    p_driver_id TEXT, p_date DATE, p_team TEXT,
    p_old_deliveries INTEGER, p_deliveries INTEGER, p_target_deliveries INTEGER,
    p_old_revenue NUMERIC, p_revenue NUMERIC, p_target_revenue NUMERIC
) RETURNS VOID
LANGUAGE plpgsql AS $$
BEGIN
    IF crosses_target(p_old_deliveries, p_deliveries, p_target_deliveries) THEN
        PERFORM note_target_reached(p_driver_id, p_date, 'deliveries', p_deliveries,
                                    p_target_deliveries, p_team);
    END IF;
    IF crosses_target(p_old_revenue, p_revenue, p_target_revenue) THEN
        PERFORM note_target_reached(p_driver_id, p_date, 'revenue', json_money(p_revenue),
                                    json_money(p_target_revenue), p_team);
    END IF;
END;
$$;

CREATE OR REPLACE FUNCTION driver_days_target_reached() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_old_deliveries INTEGER := 0;
    v_old_revenue    NUMERIC := 0;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        v_old_deliveries := OLD.current_deliveries;
        v_old_revenue := OLD.current_revenue;
    END IF;
    PERFORM note_targets_crossed(NEW.driver_id, NEW.business_date, NEW.team,
                                 v_old_deliveries, NEW.current_deliveries, NEW.target_deliveries,
                                 v_old_revenue, NEW.current_revenue, NEW.target_revenue);
    RETURN NULL;
END;
$$;

-- A new row crosses from 0.
CREATE OR REPLACE TRIGGER driver_days_target_reached_on_insert AFTER INSERT ON driver_days
    FOR EACH ROW
    WHEN (crosses_target(0, NEW.current_deliveries, NEW.target_deliveries)
          OR crosses_target(0, NEW.current_revenue, NEW.target_revenue))
    EXECUTE FUNCTION driver_days_target_reached();

CREATE OR REPLACE TRIGGER driver_days_target_reached_on_update
    AFTER UPDATE OF current_deliveries, current_revenue ON driver_days
    FOR EACH ROW
    WHEN (crosses_target(OLD.current_deliveries, NEW.current_deliveries, NEW.target_deliveries)
          OR crosses_target(OLD.current_revenue, NEW.current_revenue, NEW.target_revenue))
    EXECUTE FUNCTION driver_days_target_reached();

-- A late event on a closed day can reach a target too. The snapshot's INSERT of history rows
-- fires nothing: what those rows reached was announced while they were progress rows.
CREATE OR REPLACE FUNCTION history_target_reached() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM note_targets_crossed(NEW.driver_id, NEW.date, NEW.team,
                                 OLD.deliveries_completed, NEW.deliveries_completed,
                                 NEW.target_deliveries,
                                 OLD.revenue_generated, NEW.revenue_generated,
                                 NEW.target_revenue);
    RETURN NULL;
END;
$$;

CREATE OR REPLACE TRIGGER history_target_reached_on_update
    AFTER UPDATE OF deliveries_completed, revenue_generated ON driver_performance_history
    FOR EACH ROW
    WHEN (crosses_target(OLD.deliveries_completed, NEW.deliveries_completed,
                         NEW.target_deliveries)
          OR crosses_target(OLD.revenue_generated, NEW.revenue_generated, NEW.target_revenue))
    EXECUTE FUNCTION history_target_reached();
