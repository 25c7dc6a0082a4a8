"""Sending the outbox: claim due deliveries, send them signed, record what happened.

A claim (FOR UPDATE SKIP LOCKED) moves each row's next_attempt_at to the end of a lease and
commits before anything is sent, so two deliverers never send the same delivery at once, and
no row lock is held over the network. The result is recorded only if the row is still the one
that was claimed (same attempt number). If a deliverer dies mid-send, the lease runs out and
the delivery is sent again: delivery is at least once, and receivers deduplicate on webhook-id.

A run lasts at most WEBHOOK_RUN_SECONDS in all: each batch's claim, sends and recording are
bounded, and a batch is claimed only if all three fit in what is left. What is still due waits
for the next run (a minute later in the cloud).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from shared.db.transactions import transaction
from shared.settings import WEBHOOK_DB_STEP_SECONDS, WEBHOOK_SEND_GRACE_SECONDS, Settings
from shared.web.replies import field_names
from shared.webhooks.replies import DeliveryRunReply
from shared.webhooks.send import Claimed, Outcome, send

log = logging.getLogger(__name__)

RETRY_FIRST = dt.timedelta(seconds=30)
RETRY_CAP = dt.timedelta(hours=1)
RETRY_WINDOW = dt.timedelta(hours=24)
# Each wait is shortened by up to this fraction at random, so deliveries that failed together
# (a receiver was down) do not all come back at the same instant.
RETRY_JITTER = 0.2


_CLAIM = sa.text("""
WITH due AS (
    SELECT d.id FROM webhook_deliveries d
    WHERE d.status = 'pending' AND d.next_attempt_at <= now()
    ORDER BY d.next_attempt_at
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
)
UPDATE webhook_deliveries d
SET next_attempt_at = now() + make_interval(secs => :lease_seconds),
    attempts = d.attempts + 1,
    last_attempt_at = now()
FROM due, webhook_subscriptions s, webhook_events e
WHERE d.id = due.id AND s.id = d.subscription_id AND e.id = d.event_id
RETURNING d.id, d.attempts, d.subscription_id, s.url, s.secret, e.id AS message_id,
          jsonb_build_object('type', e.event_type, 'timestamp', e.created_at,
                             'data', e.data)::text AS body
""")

# One batch of results in one transaction: each delivery is delivered; or failed for good once
# its next try would fall outside the retry window; else pending again after its backoff. Only
# the attempt that was claimed may record its result (same attempt number, still pending).
# Each subscription touched gets its last attempt and, if any, the batch's last error.
_RECORD = sa.text("""
WITH results AS (
    SELECT * FROM json_to_recordset(CAST(:results AS json)) AS r(
        id bigint, attempts integer, ok boolean, status_code integer, error text,
        retry_seconds double precision)
), recorded AS (
    UPDATE webhook_deliveries d
    SET status = CASE
            WHEN r.ok THEN 'delivered'
            WHEN now() + make_interval(secs => r.retry_seconds)
                 > d.created_at + make_interval(secs => :window_seconds) THEN 'failed'
            ELSE 'pending' END,
        next_attempt_at = now() + make_interval(secs => r.retry_seconds),
        delivered_at = CASE WHEN r.ok THEN now() END,
        last_status_code = r.status_code,
        last_error = r.error
    FROM results r
    WHERE d.id = r.id AND d.attempts = r.attempts AND d.status = 'pending'
    RETURNING d.id, d.subscription_id, d.status, r.error
), per_subscription AS (
    SELECT subscription_id,
           (array_agg(error ORDER BY id DESC) FILTER (WHERE error IS NOT NULL))[1] AS error
    FROM recorded
    GROUP BY subscription_id
), touched AS (
    UPDATE webhook_subscriptions s
    SET last_attempt_at = now(),
        last_error = coalesce(p.error, s.last_error),
        last_error_at = CASE WHEN p.error IS NULL THEN s.last_error_at ELSE now() END
    FROM per_subscription p
    WHERE s.id = p.subscription_id
)
SELECT id, status FROM recorded
""")

# Bounds the step's statements (lock waits included): the run's end must not wait on the
# database. A step that runs out fails the run; what it claimed is sent again after its lease.
_BOUND_STEP = sa.text("SELECT set_config('statement_timeout', :ms, true)")
_STEP_MS = str(int(WEBHOOK_DB_STEP_SECONDS * 1000))


def retry_delay(attempts: int) -> dt.timedelta:
    """Exponential backoff after the `attempts`-th failed try: 30 s, 1 min, 2 min, ... 1 h."""
    doublings = min(max(attempts - 1, 0), 20)
    delay: dt.timedelta = RETRY_FIRST * (1 << doublings)
    return min(delay, RETRY_CAP)


def jittered(delay: dt.timedelta) -> dt.timedelta:
    return delay * (1 - RETRY_JITTER * random.random())  # noqa: S311 (spreading, not secrecy)


def _claim(engine: Engine, *, limit: int, lease: dt.timedelta) -> list[Claimed]:
    with transaction(engine) as conn:
        conn.execute(_BOUND_STEP, {"ms": _STEP_MS})
        rows = conn.execute(_CLAIM, {"limit": limit, "lease_seconds": lease.total_seconds()}).all()
    return [
        Claimed(
            id=row.id,
            attempts=row.attempts,
            subscription_id=str(row.subscription_id),
            url=row.url,
            secret=row.secret,
            message_id=str(row.message_id),
            body=row.body,
        )
        for row in rows
    ]


def _record(engine: Engine, sent: list[tuple[Claimed, Outcome]]) -> dict[int, str]:
    """The state each delivery is left in. One missing was not recorded: its subscription was
    deleted meanwhile, or its lease ran out and another deliverer took it."""
    results = [
        {
            "id": claimed.id,
            "attempts": claimed.attempts,
            "ok": outcome.ok,
            "status_code": outcome.status_code,
            "error": outcome.error,
            "retry_seconds": jittered(retry_delay(claimed.attempts)).total_seconds(),
        }
        for claimed, outcome in sent
    ]
    with transaction(engine) as conn:
        conn.execute(_BOUND_STEP, {"ms": _STEP_MS})
        rows = conn.execute(
            _RECORD,
            {"results": json.dumps(results), "window_seconds": RETRY_WINDOW.total_seconds()},
        ).all()
    return {row.id: row.status for row in rows}


def _log_result(claimed: Claimed, outcome: Outcome, state: str | None) -> None:
    log.log(
        logging.INFO if outcome.ok else logging.WARNING,
        "webhook delivery %s attempt %d: %s",
        claimed.id,
        claimed.attempts,
        state or "not recorded",
        extra={
            "subscription_id": claimed.subscription_id,
            "webhook_id": claimed.message_id,
            "status": outcome.status_code,
            "error": outcome.error,
        },
    )


def _send_batch(
    pool: ThreadPoolExecutor, batch: list[Claimed], settings: Settings
) -> tuple[list[Outcome], bool]:
    """Every claimed delivery's outcome, all sent at once and waited for one timeout plus a
    grace; and whether one was still running then. A send's watchdog ends its exchange at the
    timeout, but not the URL check's name lookup before it, which cannot be interrupted: such a
    send is past its deadline, so it never sends, and is recorded as timed out."""
    futures: list[Future[Outcome]] = [pool.submit(send, claimed, settings) for claimed in batch]
    _, running = wait(
        futures, timeout=settings.webhook_timeout_seconds + WEBHOOK_SEND_GRACE_SECONDS
    )
    late = Outcome(ok=False, error=f"timed out: no answer in {settings.webhook_timeout_seconds} s")
    return [late if future in running else future.result() for future in futures], bool(running)


def deliver_due(engine: Engine, settings: Settings) -> dict[str, int]:
    """Sends due deliveries, `webhook_concurrency` at a time, until none is due or another
    batch would not fit in the run's time. Answers how many ended delivered, pending again
    (retrying) or failed."""
    ends = time.monotonic() + settings.webhook_run_seconds
    # Each claimed row is sent within one timeout (all are sent at once); the margin covers DNS
    # and recording. A lease that ran out only means one more send.
    lease = dt.timedelta(seconds=2 * settings.webhook_timeout_seconds + 30)
    counts = dict.fromkeys(field_names(DeliveryRunReply), 0)
    names = {"delivered": "delivered", "pending": "retrying", "failed": "failed"}
    pool = ThreadPoolExecutor(max_workers=settings.webhook_concurrency)
    try:
        while ends - time.monotonic() >= settings.webhook_batch_seconds:
            batch = _claim(engine, limit=settings.webhook_concurrency, lease=lease)
            if not batch:
                break
            outcomes, stuck = _send_batch(pool, batch, settings)
            states = _record(engine, list(zip(batch, outcomes, strict=True)))
            for claimed, outcome in zip(batch, outcomes, strict=True):
                state = states.get(claimed.id)
                _log_result(claimed, outcome, state)
                counts[names.get(state or "", "dropped")] += 1
            if stuck:
                # Its thread is still busy: a next batch would queue behind it.
                break
    finally:
        # Never waits for a stuck lookup: the run's time is what the scheduler sees.
        pool.shutdown(wait=False, cancel_futures=True)
    return counts
