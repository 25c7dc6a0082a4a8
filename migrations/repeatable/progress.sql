-- requires: business_days, clock
--
-- Applies one progress event in one round trip: ledger, increment on the event's own business
-- day (open day: driver_days; closed day: its history row), status and active-time clock. Errors
-- carry their own SQLSTATE so the service can answer precisely:
--   FTNDR unknown driver, FTEID event_id reused for another event, FTNSD closed day without a
--   history row for the driver (or a day that can no longer open, see lock_business_day),
--   FTFBD a driver outside p_teams (or, with p_teams, one that does not exist: a caller bound
--   to teams cannot tell the two apart).
--   Totals below zero fail the *_nonnegative CHECKs (23514).
--
-- A correction on an open day updates the day's row in place; the INSERT is only for the day's
-- first event. INSERT ... ON CONFLICT DO UPDATE would not do for both: PostgreSQL checks the
-- proposed row's CHECK constraints before it looks for the conflict, so a negative correction
-- (proposed as a negative total) would fail even on a day with enough to take it from. A
-- negative first event is still refused (its total would be below zero).
--
-- p_teams: the caller's teams (shared.auth.scope), NULL for no restriction; checked on the
-- driver's row the function locks anyway, so scoping costs no statement. p_recorded_by: who
-- sent the event, kept on its ledger row.
CREATE OR REPLACE FUNCTION record_progress(
    p_driver_id    TEXT,
    p_deliveries   INTEGER,
    p_revenue      NUMERIC,
    p_status       TEXT,
    p_event_id     TEXT,
    p_occurred_at  TIMESTAMPTZ,
    p_timezone     TEXT,
    p_teams        TEXT[] DEFAULT NULL,
    p_recorded_by  TEXT DEFAULT NULL
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
    v_team       TEXT;
    v_previous   progress_events%ROWTYPE;
    v_closed     BOOLEAN;
BEGIN
    -- The driver's row first, before any day or progress row: set_targets, batches and the
    -- status step all lock in that order, so concurrent writers for one driver queue on this
    -- row instead of deadlocking.
    SELECT t.status, t.team INTO v_status, v_team FROM driver_targets t
    WHERE t.driver_id = p_driver_id
    FOR NO KEY UPDATE;
    IF p_teams IS NOT NULL AND (NOT FOUND OR NOT coalesce(v_team = ANY (p_teams), false)) THEN
        RAISE EXCEPTION 'a dispatcher may only report progress for drivers of their teams'
            USING ERRCODE = 'FTFBD';
    END IF;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'driver % not found', p_driver_id USING ERRCODE = 'FTNDR';
    END IF;

    IF p_event_id IS NOT NULL THEN
        INSERT INTO progress_events AS e (event_id, driver_id, business_date, deliveries, revenue,
                                          status, recorded_by)
        VALUES (p_event_id, p_driver_id, v_date, p_deliveries, p_revenue, p_status, p_recorded_by)
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
