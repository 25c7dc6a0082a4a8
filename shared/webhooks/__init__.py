"""Webhooks: subscriptions, the outbox of events, signed delivery with retries."""
