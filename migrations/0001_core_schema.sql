-- Fleet Targets core schema.
--
-- Progress is kept per driver and per business day (driver_days), not in one shared counter:
-- the nightly snapshot closes a day by moving its rows into driver_performance_history, so an
-- event that arrives after midnight (before the snapshot ran) counts on its own day, and an event
-- for a day that is already closed adjusts that day's history row.

-- Share of a target reached, in percent. A target of 0 is reached by definition (never divide by 0).
CREATE FUNCTION progress_percentage(done NUMERIC, target NUMERIC) RETURNS NUMERIC
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN target > 0 THEN round(done * 100 / target, 2) ELSE 100.00 END;

-- The seed's achievement figure: the mean of the deliveries and revenue percentages.
CREATE FUNCTION calculate_achievement_percentage(
    deliveries INTEGER, target_deliveries INTEGER, revenue NUMERIC, target_revenue NUMERIC
) RETURNS NUMERIC
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN round(
    (progress_percentage(deliveries, target_deliveries) + progress_percentage(revenue, target_revenue)) / 2,
    2
);

-- Today's business date in the fleet's time zone, by the database clock (one clock for every
-- instance, unlike each server's CURRENT_DATE in its own zone).
CREATE FUNCTION business_today(tz TEXT) RETURNS DATE
LANGUAGE sql STABLE PARALLEL SAFE
RETURN (now() AT TIME ZONE tz)::date;

CREATE FUNCTION touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

-- One row per driver: the standing targets (copied into each new day) and the live status.
CREATE TABLE driver_targets (
    driver_id          TEXT PRIMARY KEY CHECK (length(driver_id) BETWEEN 1 AND 64),
    target_deliveries  INTEGER NOT NULL CONSTRAINT target_deliveries_nonnegative CHECK (target_deliveries >= 0),
    target_revenue     NUMERIC(12, 2) NOT NULL CONSTRAINT target_revenue_nonnegative CHECK (target_revenue >= 0),
    status             TEXT NOT NULL DEFAULT 'available'
                       CONSTRAINT driver_status_known CHECK (status IN ('available', 'busy', 'break', 'offline')),
    status_changed_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- get_targets?status=X pages by driver_id within one status.
CREATE INDEX driver_targets_status_driver_idx ON driver_targets (status, driver_id);

CREATE TRIGGER driver_targets_touch BEFORE UPDATE ON driver_targets
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

-- A business date in FLEET_TIMEZONE. A row exists once anything happened on that date;
-- closed_at is set by the snapshot that closed it. Progress takes FOR KEY SHARE on the row and
-- the snapshot FOR UPDATE, so no event slips into a day while it is being closed.
CREATE TABLE business_days (
    business_date        DATE PRIMARY KEY,
    opened_at            TIMESTAMPTZ NOT NULL DEFAULT now(),
    closed_at            TIMESTAMPTZ,
    drivers_snapshotted  INTEGER,
    reset                BOOLEAN
);

-- Progress of every day not yet closed: usually only today, plus tomorrow between midnight and
-- the nightly snapshot. The targets are those in force on that day.
CREATE TABLE driver_days (
    driver_id           TEXT NOT NULL REFERENCES driver_targets (driver_id) ON DELETE CASCADE,
    business_date       DATE NOT NULL,
    target_deliveries   INTEGER NOT NULL CHECK (target_deliveries >= 0),
    target_revenue      NUMERIC(12, 2) NOT NULL CHECK (target_revenue >= 0),
    current_deliveries  INTEGER NOT NULL DEFAULT 0
                        CONSTRAINT current_deliveries_nonnegative CHECK (current_deliveries >= 0),
    current_revenue     NUMERIC(12, 2) NOT NULL DEFAULT 0
                        CONSTRAINT current_revenue_nonnegative CHECK (current_revenue >= 0),
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (driver_id, business_date)
);

-- The snapshot moves one business date's rows at a time.
CREATE INDEX driver_days_business_date_idx ON driver_days (business_date);

CREATE TRIGGER driver_days_touch BEFORE UPDATE ON driver_days
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

CREATE TABLE driver_performance_history (
    id                      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    driver_id               TEXT NOT NULL,
    date                    DATE NOT NULL,
    deliveries_completed    INTEGER NOT NULL
                            CONSTRAINT deliveries_completed_nonnegative CHECK (deliveries_completed >= 0),
    revenue_generated       NUMERIC(12, 2) NOT NULL
                            CONSTRAINT revenue_generated_nonnegative CHECK (revenue_generated >= 0),
    target_deliveries       INTEGER NOT NULL CHECK (target_deliveries >= 0),
    target_revenue          NUMERIC(12, 2) NOT NULL CHECK (target_revenue >= 0),
    -- Derived, so a late correction can never leave them stale.
    target_achieved         BOOLEAN GENERATED ALWAYS AS (
                                deliveries_completed >= target_deliveries
                                AND revenue_generated >= target_revenue
                            ) STORED,
    achievement_percentage  NUMERIC(10, 2) GENERATED ALWAYS AS (
                                calculate_achievement_percentage(
                                    deliveries_completed, target_deliveries,
                                    revenue_generated, target_revenue)
                            ) STORED,
    created_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Also the index of get_history (driver_id = $1 AND date >= $2).
    CONSTRAINT driver_performance_history_driver_date_key UNIQUE (driver_id, date)
);

-- top_performers scans a date window across all drivers; the INCLUDE columns make it an
-- index-only scan (no heap visits for the aggregates).
CREATE INDEX driver_performance_history_date_idx ON driver_performance_history (date)
    INCLUDE (driver_id, deliveries_completed, revenue_generated, achievement_percentage, target_achieved);

-- Ledger of processed progress events: a retried event_id is a replay, never counted twice.
CREATE TABLE progress_events (
    event_id       TEXT PRIMARY KEY CHECK (length(event_id) BETWEEN 1 AND 128),
    driver_id      TEXT NOT NULL,
    business_date  DATE NOT NULL,
    deliveries     INTEGER NOT NULL,
    revenue        NUMERIC(12, 2) NOT NULL,
    status         TEXT,
    received_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Locks (creating if need be) the business_days row of one date so it cannot be closed under the
-- caller's transaction; answers whether it is already closed.
CREATE FUNCTION lock_business_day(p_date DATE) RETURNS BOOLEAN
LANGUAGE plpgsql AS $$
DECLARE
    v_closed TIMESTAMPTZ;
BEGIN
    SELECT closed_at INTO v_closed FROM business_days WHERE business_date = p_date FOR KEY SHARE;
    IF NOT FOUND THEN
        INSERT INTO business_days (business_date) VALUES (p_date) ON CONFLICT DO NOTHING;
        SELECT closed_at INTO v_closed FROM business_days WHERE business_date = p_date FOR KEY SHARE;
    END IF;
    RETURN v_closed IS NOT NULL;
END;
$$;

-- Applies one progress event in one round trip: ledger, increment on the event's own business
-- day (open day: driver_days; closed day: its history row), status. Errors carry their own
-- SQLSTATE so the service can answer precisely:
--   FTNDR unknown driver, FTEID event_id reused for another event, FTNSD closed day without a
--   history row for the driver. Totals below zero fail the *_nonnegative CHECKs (23514).
CREATE FUNCTION record_progress(
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
        INSERT INTO driver_days AS d (driver_id, business_date, target_deliveries, target_revenue,
                                      current_deliveries, current_revenue)
        SELECT t.driver_id, v_date, t.target_deliveries, t.target_revenue, p_deliveries, p_revenue
        FROM driver_targets t WHERE t.driver_id = p_driver_id
        ON CONFLICT ON CONSTRAINT driver_days_pkey DO UPDATE
            SET current_deliveries = d.current_deliveries + excluded.current_deliveries,
                current_revenue = d.current_revenue + excluded.current_revenue
        RETURNING d.current_deliveries, d.current_revenue INTO deliveries, revenue;
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

    -- A status is the driver's live state: an event older than the last status change must not
    -- overwrite it.
    IF p_status IS NOT NULL THEN
        UPDATE driver_targets t
        SET status = p_status, status_changed_at = coalesce(p_occurred_at, now())
        WHERE t.driver_id = p_driver_id
          AND (p_occurred_at IS NULL OR p_occurred_at >= t.status_changed_at)
          AND t.status IS DISTINCT FROM p_status;
        SELECT t.status INTO v_status FROM driver_targets t WHERE t.driver_id = p_driver_id;
    END IF;

    replayed := false;
    business_date := v_date;
    day_closed := v_closed;
    status := v_status;
    RETURN NEXT;
END;
$$;
