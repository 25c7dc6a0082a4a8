-- Teams and active time.
--
-- Teams: a driver's current team lives in driver_targets; each day row (driver_days, then its
-- history row) keeps the team the driver had that day, so moving a driver never rewrites the past.
--
-- Active time: the time a driver spends `available` or `busy`, by the database clock. A driver's
-- "clock" is driver_targets.active_since: the start of the active interval not yet counted (NULL
-- while the clock is stopped). Stopping it adds the interval, split at business-day boundaries in
-- the fleet's time zone, to each day it covers (an open day's driver_days row, or a closed day's
-- history row for the part after the snapshot closed it). The snapshot adds the part of a still
-- running interval that falls in the day it closes, up to its own now(); readers add the running
-- part themselves (active_seconds_within). Each second is counted once, on its own day.
--
-- The clock runs from the driver's own reports: an event of the open day that sets `available`
-- or `busy` (or reports progress while the driver is in one of them) starts it; `break` or
-- `offline` stops it. The nightly reset and set_targets make a driver `available` but do not
-- start a stopped clock (otherwise every driver who went home would be "active" all night); a
-- clock that is running when the day closes runs on into the next day.

ALTER TABLE driver_targets
    ADD COLUMN team TEXT CONSTRAINT driver_team_length CHECK (length(team) BETWEEN 1 AND 64),
    ADD COLUMN active_since TIMESTAMPTZ,
    ADD CONSTRAINT active_since_only_while_active
        CHECK (active_since IS NULL OR status IN ('available', 'busy'));

-- get_targets?team=X pages (and exports) by driver_id within one team.
CREATE INDEX driver_targets_team_driver_idx ON driver_targets (team, driver_id);

ALTER TABLE driver_days
    ADD COLUMN team TEXT,
    ADD COLUMN active_seconds INTEGER NOT NULL DEFAULT 0
        CONSTRAINT driver_days_active_seconds_nonnegative CHECK (active_seconds >= 0);

ALTER TABLE driver_performance_history
    ADD COLUMN team TEXT,
    ADD COLUMN active_seconds INTEGER NOT NULL DEFAULT 0
        CONSTRAINT history_active_seconds_nonnegative CHECK (active_seconds >= 0);

-- The boards read team and active time too: the date index of 0001 is replaced by one that
-- still answers every board over all drivers with an index-only scan.
DROP INDEX driver_performance_history_date_idx;
CREATE INDEX driver_performance_history_date_board_idx ON driver_performance_history (date)
    INCLUDE (driver_id, team, deliveries_completed, revenue_generated, achievement_percentage,
             target_achieved, active_seconds);

-- top_performers?team=X (with compare=previous: two windows back to back) reads one team's rows.
CREATE INDEX driver_performance_history_team_date_idx ON driver_performance_history (team, date)
    INCLUDE (driver_id, deliveries_completed, revenue_generated, achievement_percentage,
             target_achieved, active_seconds);

-- The first moment of a business date in the fleet's time zone.
CREATE FUNCTION business_day_start(p_date DATE, p_timezone TEXT) RETURNS TIMESTAMPTZ
LANGUAGE sql STABLE PARALLEL SAFE
RETURN p_date::timestamp AT TIME ZONE p_timezone;

-- Whole seconds of [p_since, p_until) that fall on business date p_date; 0 when p_since is NULL.
CREATE FUNCTION active_seconds_within(
    p_since TIMESTAMPTZ, p_until TIMESTAMPTZ, p_date DATE, p_timezone TEXT
) RETURNS INTEGER
LANGUAGE sql STABLE PARALLEL SAFE
RETURN CASE WHEN p_since IS NULL THEN 0 ELSE greatest(0, floor(extract(epoch FROM
    least(p_until, business_day_start(p_date + 1, p_timezone))
    - greatest(p_since, business_day_start(p_date, p_timezone)))))::integer END;

-- A count per active hour (deliveries_per_active_hour, the per_hour board); NULL without active time.
CREATE FUNCTION per_active_hour(p_count NUMERIC, p_active_seconds NUMERIC) RETURNS NUMERIC
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN p_active_seconds > 0 THEN round(p_count * 3600 / p_active_seconds, 2) END;

-- The business days [p_from, p_to) touches that can take active time, each locked FOR KEY SHARE
-- (so no snapshot closes it meanwhile) with its closed_at. A day that never opened while a
-- later day is already closed is left out: no snapshot would ever close a row opened for it.
CREATE FUNCTION lock_active_days(p_from TIMESTAMPTZ, p_to TIMESTAMPTZ, p_timezone TEXT)
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

-- Counts the active interval [p_from, p_to) on the days it covers: an open day's progress row
-- (created if need be), or, for a closed day, its history row for the part after closed_at (the
-- snapshot counted the part before).
CREATE FUNCTION add_active_time(
    p_driver_id TEXT, p_from TIMESTAMPTZ, p_to TIMESTAMPTZ, p_timezone TEXT
) RETURNS VOID
LANGUAGE plpgsql AS $$
DECLARE
    v_day      RECORD;
    v_seconds  INTEGER;
BEGIN
    FOR v_day IN SELECT * FROM lock_active_days(p_from, p_to, p_timezone) LOOP
        IF v_day.closed_at IS NULL THEN
            v_seconds := active_seconds_within(p_from, p_to, v_day.business_date, p_timezone);
            CONTINUE WHEN v_seconds = 0;
            INSERT INTO driver_days AS d (driver_id, business_date, team, target_deliveries,
                                          target_revenue, active_seconds)
            SELECT t.driver_id, v_day.business_date, t.team, t.target_deliveries,
                   t.target_revenue, v_seconds
            FROM driver_targets t WHERE t.driver_id = p_driver_id
            ON CONFLICT ON CONSTRAINT driver_days_pkey DO UPDATE
                SET active_seconds = d.active_seconds + excluded.active_seconds;
        ELSE
            v_seconds := active_seconds_within(greatest(p_from, v_day.closed_at), p_to,
                                               v_day.business_date, p_timezone);
            CONTINUE WHEN v_seconds = 0;
            UPDATE driver_performance_history h
            SET active_seconds = h.active_seconds + v_seconds
            WHERE h.driver_id = p_driver_id AND h.date = v_day.business_date;
        END IF;
    END LOOP;
END;
$$;

-- The status and clock part of a progress event: sets the status (unless the event is older than
-- the last status change) and starts or stops the driver's clock. The event's moment is its
-- occurred_at, never later than the database clock. Business days are locked before the driver
-- row, the order the snapshot uses (days, then drivers), so the two never deadlock. Answers the
-- driver's status afterwards.
CREATE FUNCTION apply_status_and_clock(
    p_driver_id TEXT, p_status TEXT, p_occurred_at TIMESTAMPTZ, p_timezone TEXT
) RETURNS TEXT
LANGUAGE plpgsql AS $$
DECLARE
    v_moment       TIMESTAMPTZ := least(coalesce(p_occurred_at, now()), now());
    v_open_today   BOOLEAN := (v_moment AT TIME ZONE p_timezone)::date = business_today(p_timezone);
    v_driver       driver_targets%ROWTYPE;
    v_status       TEXT;
    v_since        TIMESTAMPTZ;
BEGIN
    SELECT t.active_since INTO v_since FROM driver_targets t WHERE t.driver_id = p_driver_id;
    PERFORM lock_active_days(v_since, v_moment, p_timezone);

    SELECT * INTO v_driver FROM driver_targets t WHERE t.driver_id = p_driver_id FOR NO KEY UPDATE;
    IF p_occurred_at IS NOT NULL AND p_occurred_at < v_driver.status_changed_at THEN
        RETURN v_driver.status;
    END IF;

    v_status := coalesce(p_status, v_driver.status);
    v_since := v_driver.active_since;
    IF v_status IN ('available', 'busy') THEN
        IF v_since IS NULL AND v_open_today THEN
            v_since := v_moment;
        END IF;
    ELSIF v_since IS NOT NULL THEN
        PERFORM add_active_time(p_driver_id, v_since, greatest(v_since, v_moment), p_timezone);
        v_since := NULL;
    END IF;

    IF v_status IS DISTINCT FROM v_driver.status OR v_since IS DISTINCT FROM v_driver.active_since THEN
        UPDATE driver_targets t
        SET status = v_status,
            status_changed_at = CASE WHEN v_status IS DISTINCT FROM v_driver.status
                                     THEN v_moment ELSE t.status_changed_at END,
            active_since = v_since
        WHERE t.driver_id = p_driver_id;
    END IF;
    RETURN v_status;
END;
$$;

-- 0001's version with teams on new day rows and the status handled by apply_status_and_clock.
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
        INSERT INTO driver_days AS d (driver_id, business_date, team, target_deliveries,
                                      target_revenue, current_deliveries, current_revenue)
        SELECT t.driver_id, v_date, t.team, t.target_deliveries, t.target_revenue,
               p_deliveries, p_revenue
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

    v_status := apply_status_and_clock(p_driver_id, p_status, p_occurred_at, p_timezone);

    replayed := false;
    business_date := v_date;
    day_closed := v_closed;
    status := v_status;
    RETURN NEXT;
END;
$$;
