-- Webhooks: subscriptions, an outbox of events, and one delivery row per event and subscription.
--
-- Transactional outbox: an event and its delivery rows are inserted by the same transaction as
-- the change that causes it (a trigger on the progress rows, the snapshot's own transaction), so
-- a change that rolls back leaves nothing to send, and a committed one is never lost. The
-- deliverer (shared/webhooks/) sends them afterwards, at least once. The functions and triggers
-- that emit them: repeatable/webhooks.sql.

CREATE TABLE webhook_subscriptions (
    id               UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    url              TEXT NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    events           TEXT[] NOT NULL CHECK (
                         cardinality(events) > 0
                         AND events <@ ARRAY['target_reached', 'day_closed']),
    description      TEXT CHECK (length(description) <= 256),
    -- Standard Webhooks secret ("whsec_" + base64). Kept as is: signing needs the key itself.
    -- Never listed, never logged.
    secret           TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_attempt_at  TIMESTAMPTZ,
    last_error       TEXT,
    last_error_at    TIMESTAMPTZ
);

-- dedupe_key makes an event happen once: target_reached/<target>/<date>/<driver_id> (the
-- driver id last, so no id can forge another key), day_closed/<date>.
CREATE TABLE webhook_events (
    id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    event_type  TEXT NOT NULL CHECK (event_type IN ('target_reached', 'day_closed')),
    dedupe_key  TEXT NOT NULL CONSTRAINT webhook_events_dedupe_key UNIQUE,
    data        JSONB NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE webhook_deliveries (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id          UUID NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    -- Deleting a subscription deletes its pending deliveries: nothing more is sent to it.
    subscription_id   UUID NOT NULL REFERENCES webhook_subscriptions (id) ON DELETE CASCADE,
    status            TEXT NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts          INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    -- When a pending delivery is due; while one is being sent, the end of the sender's lease.
    next_attempt_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_attempt_at   TIMESTAMPTZ,
    last_status_code  INTEGER,
    last_error        TEXT,
    delivered_at      TIMESTAMPTZ,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT webhook_deliveries_event_subscription_key UNIQUE (event_id, subscription_id)
);

-- The deliverer's claim: due pending rows in next_attempt_at order.
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';
-- manage_webhooks' counts per subscription and status; also the cascade of a DELETE.
CREATE INDEX webhook_deliveries_subscription_idx ON webhook_deliveries (subscription_id, status);
