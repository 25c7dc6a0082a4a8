-- Pruning by age (shared/retention.py, after each snapshot): the ledger of progress events and
-- the webhook outbox would otherwise grow for as long as the service runs.

-- BRIN: these rows arrive in time order, so a few index pages find the old ones and the hot
-- path's inserts barely touch the index. Building one reads its table once, and inserts into
-- that table wait meanwhile: on a large ledger, apply this with `fleet migrate` off-peak.
CREATE INDEX progress_events_received_at_brin ON progress_events USING brin (received_at);
CREATE INDEX webhook_events_created_at_brin ON webhook_events USING brin (created_at);

-- Deleting an event deletes its deliveries (ON DELETE CASCADE) through the unique index on
-- (event_id, subscription_id) of 0003.
