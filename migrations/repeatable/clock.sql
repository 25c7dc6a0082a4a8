-- requires: business_days
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

-- Whole seconds of [p_since, p_until) that fall on business date p_date; 0 when p_since is NULL.
CREATE OR REPLACE FUNCTION active_seconds_within(
    p_since TIMESTAMPTZ, p_until TIMESTAMPTZ, p_date DATE, p_timezone TEXT
) RETURNS INTEGER
LANGUAGE sql STABLE PARALLEL SAFE
RETURN CASE WHEN p_since IS NULL THEN 0 ELSE greatest(0, floor(extract(epoch FROM
    least(p_until, business_day_start(p_date + 1, p_timezone))
    - greatest(p_since, business_day_start(p_date, p_timezone)))))::integer END;

-- A count per active hour (deliveries_per_active_hour, the per_hour board); NULL below
-- p_min_seconds of active time (RATE_MIN_ACTIVE_MINUTES): nine seconds active and one delivery
-- is no rate of 400 an hour.
CREATE OR REPLACE FUNCTION per_active_hour(
    p_count NUMERIC, p_active_seconds NUMERIC, p_min_seconds NUMERIC
) RETURNS NUMERIC
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN p_active_seconds >= greatest(p_min_seconds, 1)
            THEN round(p_count * 3600 / p_active_seconds, 2) END;

-- Counts the active interval [p_from, p_to) on the days it covers: an open day's progress row
-- (created if need be), or, for a closed day, its history row for the part after closed_at (the
-- snapshot counted the part before).
CREATE OR REPLACE FUNCTION add_active_time(
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
CREATE OR REPLACE FUNCTION apply_status_and_clock(
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
