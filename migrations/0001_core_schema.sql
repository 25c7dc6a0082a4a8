-- Fleet Targets core schema.
--
-- Progress is kept per driver and per business day (driver_days), not in one shared counter:
-- the nightly snapshot closes a day by moving its rows into driver_performance_history, so an
-- event that arrives after midnight (before the snapshot ran) counts on its own day, and an event
-- for a day that is already closed adjusts that day's history row.
--
-- Versioned files hold tables, columns, indexes, constraints and the functions a stored column
-- depends on; the functions and triggers that can be replaced live in repeatable/ (see
-- shared/db/migrations.py).

-- The two functions behind driver_performance_history.achievement_percentage (a stored column)
-- stay here: replacing them would leave stored values computed by the old code.

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
