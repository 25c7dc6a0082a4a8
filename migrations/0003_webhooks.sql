-- Webhooks: subscriptions, an outbox of events, and one delivery row per event and subscription.
--
-- Transactional outbox: an event and its delivery rows are inserted by the same transaction as
-- the change that causes it (a trigger on the progress rows, the snapshot's own transaction), so
-- a change that rolls back leaves nothing to send, and a committed one is never lost. The
-- deliverer (shared/webhook_delivery.py) sends them afterwards, at least once.

CREATE TABLE webhook_subscriptions (
    id               UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    url              TEXT NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    events           TEXT[] NOT NULL CHECK (
                         cardinality(events) > 0
                         AND events <@ ARRAY['target_reached', 'day_closed']),
    description      TEXT CHECK (length(description) <= 256),
    -- Standard Webhooks secret ("whsec_" + base64). Kept as is: signing needs the key itself.
    -- Never listed, never logged.
    secret           TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_attempt_at  TIMESTAMPTZ,
    last_error       TEXT,
    last_error_at    TIMESTAMPTZ
);

-- dedupe_key makes an event happen once: target_reached/<target>/<date>/<driver_id> (the
-- driver id last, so no id can forge another key), day_closed/<date>.
CREATE TABLE webhook_events (
    id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    event_type  TEXT NOT NULL CHECK (event_type IN ('target_reached', 'day_closed')),
    dedupe_key  TEXT NOT NULL CONSTRAINT webhook_events_dedupe_key UNIQUE,
    data        JSONB NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE webhook_deliveries (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id          UUID NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    -- Deleting a subscription deletes its pending deliveries: nothing more is sent to it.
    subscription_id   UUID NOT NULL REFERENCES webhook_subscriptions (id) ON DELETE CASCADE,
    status            TEXT NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts          INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    -- When a pending delivery is due; while one is being sent, the end of the sender's lease.
    next_attempt_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_attempt_at   TIMESTAMPTZ,
    last_status_code  INTEGER,
    last_error        TEXT,
    delivered_at      TIMESTAMPTZ,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT webhook_deliveries_event_subscription_key UNIQUE (event_id, subscription_id)
);

-- The deliverer's claim: due pending rows in next_attempt_at order.
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';
-- manage_webhooks' counts per subscription and status; also the cascade of a DELETE.
CREATE INDEX webhook_deliveries_subscription_idx ON webhook_deliveries (subscription_id, status);

-- Records one event (once per dedupe_key) and a pending delivery for every subscription to its
-- type. Concurrent callers with the same key: the unique index makes all but one do nothing.
CREATE FUNCTION emit_webhook_event(p_type TEXT, p_dedupe_key TEXT, p_data JSONB) RETURNS UUID
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

CREATE FUNCTION note_target_reached(
    p_driver_id TEXT, p_date DATE, p_target TEXT, p_value NUMERIC, p_target_value NUMERIC,
    p_team JSONB
) RETURNS UUID
LANGUAGE sql AS $$
SELECT emit_webhook_event(
    'target_reached',
    concat_ws('/', 'target_reached', p_target, p_date, p_driver_id),
    jsonb_build_object('driver_id', p_driver_id, 'date', p_date, 'target', p_target,
                       'value', p_value, 'target_value', p_target_value,
                       'team', coalesce(p_team, 'null'::jsonb)))
$$;

-- The driver's team when the schema has one: the row's own (a day keeps the team it had), else
-- the driver's. Read through to_jsonb so this works with or without a team column.
CREATE FUNCTION team_of(p_row JSONB, p_driver_id TEXT) RETURNS JSONB
LANGUAGE sql STABLE AS $$
SELECT coalesce(p_row -> 'team',
                (SELECT to_jsonb(t) -> 'team' FROM driver_targets t WHERE t.driver_id = p_driver_id))
$$;

-- A target is reached when a total crosses it from below (a zero target is no goal: no event).
-- A dip below and a rise again crosses twice; the dedupe key keeps it to one event.
CREATE FUNCTION driver_days_target_reached() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_old_deliveries INTEGER := 0;
    v_old_revenue    NUMERIC := 0;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        v_old_deliveries := OLD.current_deliveries;
        v_old_revenue := OLD.current_revenue;
    END IF;
    IF NEW.target_deliveries > 0 AND NEW.current_deliveries >= NEW.target_deliveries
       AND v_old_deliveries < NEW.target_deliveries THEN
        PERFORM note_target_reached(NEW.driver_id, NEW.business_date, 'deliveries',
                                    NEW.current_deliveries, NEW.target_deliveries,
                                    team_of(to_jsonb(NEW), NEW.driver_id));
    END IF;
    IF NEW.target_revenue > 0 AND NEW.current_revenue >= NEW.target_revenue
       AND v_old_revenue < NEW.target_revenue THEN
        PERFORM note_target_reached(NEW.driver_id, NEW.business_date, 'revenue',
                                    NEW.current_revenue, NEW.target_revenue,
                                    team_of(to_jsonb(NEW), NEW.driver_id));
    END IF;
    RETURN NULL;
END;
$$;

-- The WHEN clauses keep the common case (no crossing) free of any function call.
CREATE TRIGGER driver_days_target_reached_on_insert AFTER INSERT ON driver_days
    FOR EACH ROW
    WHEN ((NEW.target_deliveries > 0 AND NEW.current_deliveries >= NEW.target_deliveries)
          OR (NEW.target_revenue > 0 AND NEW.current_revenue >= NEW.target_revenue))
    EXECUTE FUNCTION driver_days_target_reached();

CREATE TRIGGER driver_days_target_reached_on_update
    AFTER UPDATE OF current_deliveries, current_revenue ON driver_days
    FOR EACH ROW
    WHEN ((NEW.current_deliveries >= NEW.target_deliveries
           AND OLD.current_deliveries < NEW.target_deliveries)
          OR (NEW.current_revenue >= NEW.target_revenue
              AND OLD.current_revenue < NEW.target_revenue))
    EXECUTE FUNCTION driver_days_target_reached();

-- A late event on a closed day can reach a target too. The snapshot's INSERT of history rows
-- fires nothing: what those rows reached was announced while they were progress rows.
CREATE FUNCTION history_target_reached() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.target_deliveries > 0 AND NEW.deliveries_completed >= NEW.target_deliveries
       AND OLD.deliveries_completed < NEW.target_deliveries THEN
        PERFORM note_target_reached(NEW.driver_id, NEW.date, 'deliveries',
                                    NEW.deliveries_completed, NEW.target_deliveries,
                                    team_of(to_jsonb(NEW), NEW.driver_id));
    END IF;
    IF NEW.target_revenue > 0 AND NEW.revenue_generated >= NEW.target_revenue
       AND OLD.revenue_generated < NEW.target_revenue THEN
        PERFORM note_target_reached(NEW.driver_id, NEW.date, 'revenue',
                                    NEW.revenue_generated, NEW.target_revenue,
                                    team_of(to_jsonb(NEW), NEW.driver_id));
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER history_target_reached_on_update
    AFTER UPDATE OF deliveries_completed, revenue_generated ON driver_performance_history
    FOR EACH ROW
    WHEN ((NEW.deliveries_completed >= NEW.target_deliveries
           AND OLD.deliveries_completed < NEW.target_deliveries)
          OR (NEW.revenue_generated >= NEW.target_revenue
              AND OLD.revenue_generated < NEW.target_revenue))
    EXECUTE FUNCTION history_target_reached();

-- 0001's version, plus: a past date that never opened while a later date is already closed
-- (the service was not running then, or that night's snapshot never ran and a later one did)
-- is no day to count on. Without this, an event for it would open a progress row that no
-- snapshot would ever close, and its progress would show nowhere.
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

-- 0002's record_progress with one fix: a correction on an open day updates the day's row in
-- place. 0001 and 0002 always went through INSERT ... ON CONFLICT DO UPDATE, and PostgreSQL
-- checks the proposed row's CHECK constraints before it looks for the conflict, so every
-- negative correction (proposed as a negative total) failed as negative_total even on a day with
-- enough to take it from. The insert is now only for the day's first event; a negative first
-- event is still refused (its total would be below zero).
CREATE OR REPLACE FUNCTION record_progress(
    p_driver_id    TEXT,
    p_deliveries   INTEGER,
    p_revenue      NUMERIC,
    p_status       TEXT,
    p_event_id     TEXT,
    p_occurred_at  TIMESTAMPTZ,
    p_timezone     TEXT
) RETURNS TABLE (
    replayed        BOOLEAN,
    business_date   DATE,
    day_closed      BOOLEAN,
    deliveries      INTEGER,
    revenue         NUMERIC,
    status          TEXT
)
LANGUAGE plpgsql AS $$
DECLARE
    v_date       DATE := (coalesce(p_occurred_at, now()) AT TIME ZONE p_timezone)::date;
    v_status     TEXT;
    v_previous   progress_events%ROWTYPE;
    v_closed     BOOLEAN;
BEGIN
    SELECT t.status INTO v_status FROM driver_targets t WHERE t.driver_id = p_driver_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'driver % not found', p_driver_id USING ERRCODE = 'FTNDR';
    END IF;

    IF p_event_id IS NOT NULL THEN
        INSERT INTO progress_events AS e (event_id, driver_id, business_date, deliveries, revenue, status)
        VALUES (p_event_id, p_driver_id, v_date, p_deliveries, p_revenue, p_status)
        ON CONFLICT (event_id) DO NOTHING;
        IF NOT FOUND THEN
            SELECT * INTO v_previous FROM progress_events e WHERE e.event_id = p_event_id;
            IF (v_previous.driver_id, v_previous.deliveries, v_previous.revenue, v_previous.status)
                IS DISTINCT FROM (p_driver_id, p_deliveries, p_revenue::NUMERIC(12, 2), p_status) THEN
                RAISE EXCEPTION 'event_id % was already used for a different event', p_event_id
                    USING ERRCODE = 'FTEID';
            END IF;
            v_date := v_previous.business_date;
            replayed := true;
            business_date := v_date;
            SELECT b.closed_at IS NOT NULL INTO day_closed FROM business_days b WHERE b.business_date = v_date;
            day_closed := coalesce(day_closed, false);
            IF day_closed THEN
                SELECT h.deliveries_completed, h.revenue_generated INTO deliveries, revenue
                FROM driver_performance_history h WHERE h.driver_id = p_driver_id AND h.date = v_date;
            ELSE
                SELECT d.current_deliveries, d.current_revenue INTO deliveries, revenue
                FROM driver_days d WHERE d.driver_id = p_driver_id AND d.business_date = v_date;
            END IF;
            status := v_status;
            RETURN NEXT;
            RETURN;
        END IF;
    END IF;

    v_closed := lock_business_day(v_date);

    IF NOT v_closed THEN
        UPDATE driver_days d
        SET current_deliveries = d.current_deliveries + p_deliveries,
            current_revenue = d.current_revenue + p_revenue
        WHERE d.driver_id = p_driver_id AND d.business_date = v_date
        RETURNING d.current_deliveries, d.current_revenue INTO deliveries, revenue;
        IF NOT FOUND THEN
            INSERT INTO driver_days AS d (driver_id, business_date, team, target_deliveries,
                                          target_revenue, current_deliveries, current_revenue)
            SELECT t.driver_id, v_date, t.team, t.target_deliveries, t.target_revenue,
                   p_deliveries, p_revenue
            FROM driver_targets t WHERE t.driver_id = p_driver_id
            ON CONFLICT ON CONSTRAINT driver_days_pkey DO UPDATE
                SET current_deliveries = d.current_deliveries + excluded.current_deliveries,
                    current_revenue = d.current_revenue + excluded.current_revenue
            RETURNING d.current_deliveries, d.current_revenue INTO deliveries, revenue;
        END IF;
    ELSE
        UPDATE driver_performance_history h
        SET deliveries_completed = h.deliveries_completed + p_deliveries,
            revenue_generated = h.revenue_generated + p_revenue
        WHERE h.driver_id = p_driver_id AND h.date = v_date
        RETURNING h.deliveries_completed, h.revenue_generated INTO deliveries, revenue;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'driver % has no history row for the closed day %', p_driver_id, v_date
                USING ERRCODE = 'FTNSD';
        END IF;
    END IF;

    v_status := apply_status_and_clock(p_driver_id, p_status, p_occurred_at, p_timezone);

    replayed := false;
    business_date := v_date;
    day_closed := v_closed;
    status := v_status;
    RETURN NEXT;
END;
$$;
