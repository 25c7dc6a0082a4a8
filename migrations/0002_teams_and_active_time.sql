-- Teams and active time.
--
-- Teams: a driver's current team lives in driver_targets; each day row (driver_days, then its
-- history row) keeps the team the driver had that day, so moving a driver never rewrites the past.
--
-- Active time: the time a driver spends `available` or `busy`, counted per day in active_seconds
-- from the clock in driver_targets.active_since (how it runs: repeatable/clock.sql).

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
