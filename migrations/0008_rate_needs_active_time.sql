-- per_active_hour() takes the minimum of active time below which a rate is NULL
-- (RATE_MIN_ACTIVE_MINUTES; repeatable/clock.sql): a new signature, so the old one is dropped by
-- name (the repeatable file then creates the new one).
DROP FUNCTION IF EXISTS per_active_hour(NUMERIC, NUMERIC);
