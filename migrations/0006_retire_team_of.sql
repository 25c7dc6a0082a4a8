-- Functions the webhook triggers no longer call (repeatable/webhooks.sql). team_of() read the
-- team through to_jsonb "with or without a team column", a guard that could not fire once 0002
-- always adds the column; note_target_reached() took the team as JSONB for it and now takes
-- TEXT, a new signature, so the old one is dropped by name. Databases first migrated after the
-- functions moved to repeatable/ never had either: hence IF EXISTS.
DROP FUNCTION IF EXISTS team_of(JSONB, TEXT);
DROP FUNCTION IF EXISTS note_target_reached(TEXT, DATE, TEXT, NUMERIC, NUMERIC, JSONB);
