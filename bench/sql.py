"""The bench's own SQL: the data it loads and the floors it measures (pg8000 `format` style).

A floor is the same work done raw: the statement alone, through one pg8000 connection, with no
HTTP, no validation and no SQLAlchemy. It is the bench's yardstick, not product code.
"""

# `count` drivers prefix000001...: targets and statuses spread over a small range, a team each.
LOAD_DRIVERS = """
INSERT INTO driver_targets (driver_id, target_deliveries, target_revenue, status, team)
SELECT %s || lpad(CAST(i AS text), 6, '0'), 20 + i %% 10, 4000 + (i %% 50) * 20,
       (ARRAY['available', 'busy', 'break', 'offline'])[1 + i %% 4], 'team-' || i %% 20
FROM generate_series(1, %s) AS i
"""

# A day row (open day, some progress) for every driver whose id starts with the prefix.
LOAD_DAY_ROWS = """
INSERT INTO driver_days (driver_id, business_date, team, target_deliveries, target_revenue,
                         current_deliveries, current_revenue)
SELECT driver_id, CAST(%s AS date), team, target_deliveries, target_revenue,
       length(driver_id) + CAST(right(driver_id, 2) AS integer) %% 30,
       CAST(right(driver_id, 3) AS integer) * 7
FROM driver_targets WHERE starts_with(driver_id, %s)
"""

# `days` closed days before `today` for drivers prefix000001..prefix<count>, straight into history.
LOAD_HISTORY = """
INSERT INTO driver_performance_history
    (driver_id, date, team, deliveries_completed, revenue_generated, target_deliveries,
     target_revenue, active_seconds)
SELECT %s || lpad(CAST(i AS text), 6, '0'), CAST(%s AS date) - g, 'team-' || i %% 20,
       (i * 31 + g * 17) %% 41, (i * 131 + g * 71) %% 9000, 20 + i %% 10, 4000 + (i %% 50) * 20,
       (i * 13 + g * 7) %% 36000
FROM generate_series(1, %s) AS i CROSS JOIN generate_series(1, %s) AS g
"""

TODAY = "SELECT business_today('UTC')"

# progress_p50 / progress_p99 / concurrent_16: one increment, autocommitted.
# The one statement update_progress runs for an event (migrations/repeatable/progress.sql),
# for the breakdown.
RECORD_PROGRESS = (
    "SELECT replayed, business_date, day_closed, deliveries, revenue, status"
    " FROM record_progress(:driver_id, 1, 0, NULL, :event_id, NULL, 'UTC')"
)

PROGRESS_FLOOR = """
UPDATE driver_days SET current_deliveries = current_deliveries + 1
WHERE driver_id = %s AND business_date = %s
"""

DELIVERIES_OF = """
SELECT coalesce(sum(current_deliveries), 0) FROM driver_days
WHERE starts_with(driver_id, %s) AND business_date = %s
"""

# set_targets_10k: the same rows set_targets writes (each driver's targets and the day they
# open), in one statement fed by arrays.
SET_TARGETS_FLOOR = """
WITH upserted AS (
    INSERT INTO driver_targets AS t (driver_id, target_deliveries, target_revenue, team)
    SELECT * FROM unnest(CAST(%s AS text[]), CAST(%s AS integer[]), CAST(%s AS numeric[]),
                         CAST(%s AS text[]))
    ON CONFLICT (driver_id) DO UPDATE
        SET target_deliveries = excluded.target_deliveries,
            target_revenue = excluded.target_revenue,
            team = excluded.team,
            status = 'available',
            status_changed_at = now()
    RETURNING t.driver_id, t.target_deliveries, t.target_revenue, t.team
)
INSERT INTO driver_days AS d (driver_id, business_date, team, target_deliveries, target_revenue)
SELECT driver_id, CAST(%s AS date), team, target_deliveries, target_revenue FROM upserted
ON CONFLICT ON CONSTRAINT driver_days_pkey DO UPDATE
    SET target_deliveries = excluded.target_deliveries,
        target_revenue = excluded.target_revenue,
        team = excluded.team,
        current_deliveries = 0,
        current_revenue = 0
"""

# set_targets_vs_loop: what the earlier service did, one autocommitted upsert per driver.
SEED_LOOP_INSERT = """
INSERT INTO driver_targets (driver_id, target_deliveries, target_revenue, status)
VALUES (%s, %s, %s, 'available')
ON CONFLICT (driver_id) DO UPDATE
    SET target_deliveries = excluded.target_deliveries,
        target_revenue = excluded.target_revenue,
        status = 'available',
        updated_at = now()
"""

# snapshot_100k: the day's rows into history (moved: in this model that is the progress reset)
# and every driver back to available, in one transaction.
SNAPSHOT_MOVE_FLOOR = """
WITH closed AS (
    DELETE FROM driver_days WHERE business_date = %s
    RETURNING driver_id, business_date, team, current_deliveries, current_revenue,
              target_deliveries, target_revenue, active_seconds
)
INSERT INTO driver_performance_history
    (driver_id, date, team, deliveries_completed, revenue_generated, target_deliveries,
     target_revenue, active_seconds)
SELECT driver_id, business_date, team, current_deliveries, current_revenue,
       target_deliveries, target_revenue, active_seconds
FROM closed
"""

SNAPSHOT_RESET_FLOOR = """
UPDATE driver_targets SET status = 'available', status_changed_at = now()
WHERE status <> 'available'
"""

# top_performers_3m, for reference: a plain ranking of the window without the board's extras (the
# previous window, the live day, eligibility); params (tz, days, metric, limit).
PLAIN_RANKING = """
WITH per_driver AS (
    SELECT h.driver_id,
           count(*) AS days_worked,
           sum(h.deliveries_completed) AS total_deliveries,
           sum(h.revenue_generated) AS total_revenue,
           round(avg(h.achievement_percentage), 2) AS avg_achievement,
           count(*) FILTER (WHERE h.target_achieved) AS days_achieved
    FROM driver_performance_history h
    WHERE h.date >= business_today(%s) - CAST(%s AS integer)
    GROUP BY h.driver_id
), scored AS (
    SELECT *, CASE CAST(%s AS text)
                  WHEN 'deliveries' THEN CAST(total_deliveries AS numeric)
                  WHEN 'revenue' THEN total_revenue
                  ELSE avg_achievement
              END AS score
    FROM per_driver
)
SELECT rank() OVER (ORDER BY score DESC) AS rank,
       driver_id, days_worked, total_deliveries, total_revenue, avg_achievement, days_achieved
FROM scored
ORDER BY score DESC, driver_id
LIMIT %s
"""

# cold_start's floor: the bare function's one query.
BARE_QUERY = """
SELECT driver_id, target_deliveries, CAST(target_revenue AS text) FROM driver_targets
WHERE driver_id = %s
"""
