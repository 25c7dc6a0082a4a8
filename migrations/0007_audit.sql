-- Who made each write (issue 13): the caller's principal, as shared.auth.identity.Identity
-- names it (a service account's email, or an end user's `issuer#subject`). NULL for rows
-- written before this migration and for writes made with AUTH_MODE=off, where no one is known.

-- Each ledgered progress event (one with an event_id): who sent it, so that a correction by a
-- dispatcher names the dispatcher.
ALTER TABLE progress_events ADD COLUMN recorded_by TEXT;

-- The last change to a driver's standing targets or team (set_targets).
ALTER TABLE driver_targets ADD COLUMN updated_by TEXT;

-- record_progress() takes the caller's teams and principal (repeatable/progress.sql): a new
-- signature, so the old one is dropped by name (the repeatable file then creates the new one).
DROP FUNCTION IF EXISTS record_progress(TEXT, INTEGER, NUMERIC, TEXT, TEXT, TIMESTAMPTZ, TEXT);
