"""Progress events: counted once, on their own business day, never below zero."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from shared.auth.scope import EVERYONE, Scope
from shared.db.transactions import FetchOne, prepared_on, prepared_statement, transaction
from shared.db.translate import translate
from shared.errors import Conflict, InvalidInput
from shared.fleet.progress.requests import ProgressEvent

# How far ahead of the server clock an occurred_at may be (device clocks drift).
MAX_CLOCK_SKEW = dt.timedelta(minutes=5)

# Every writer locks a driver's row before its progress rows: set_targets (its upsert),
# record_progress() (its first statement, repeatable/progress.sql), and a batch, which locks all its
# drivers up front in driver_id order so that two batches naming the same drivers in different
# orders queue instead of deadlocking.
_LOCK_DRIVERS = sa.text(
    "SELECT driver_id FROM driver_targets WHERE driver_id = ANY(:driver_ids)"
    " ORDER BY driver_id FOR NO KEY UPDATE"
)

# The hot path: one statement, prepared once per connection, written with pg8000's placeholders:
# a single event runs it through shared.db.transactions' prepared_statement, a batch through
# prepared_on its transaction's connection. The caller's scope rides along as two more values
# (repeatable/progress.sql checks the team on the driver's row it locks anyway): no statement
# is added for it.
_RECORD = (
    "SELECT replayed, business_date, day_closed, deliveries, revenue, status"
    " FROM record_progress(%s, %s, %s, %s, %s, CAST(%s AS timestamptz), %s,"
    " CAST(%s AS text[]), %s)"
)


def _check_occurred_at(
    event: ProgressEvent,
    field: str | None,
    *,
    now: dt.datetime,
    timezone: dt.tzinfo,
    late_days: int,
) -> None:
    if event.occurred_at is None:
        return
    if event.occurred_at > now + MAX_CLOCK_SKEW:
        raise InvalidInput(
            f"occurred_at {event.occurred_at.isoformat()} is more than 5 minutes in the future",
            code="occurred_in_future",
            field=field,
        )
    business_date = event.occurred_at.astimezone(timezone).date()
    oldest = now.astimezone(timezone).date() - dt.timedelta(days=late_days)
    if business_date < oldest:
        raise Conflict(
            f"occurred_at falls on {business_date}, more than {late_days} days ago",
            code="too_late",
            field=field,
        )


def _apply(
    fetch_one: FetchOne, event: ProgressEvent, timezone: str, scope: Scope
) -> dict[str, Any]:
    replayed, business_date, day_closed, deliveries, revenue, status = fetch_one(
        _RECORD,
        (
            event.driver_id,
            event.deliveries,
            event.revenue,
            event.status,
            event.event_id,
            event.occurred_at,
            timezone,
            None if scope.teams is None else list(scope.teams),
            scope.principal,
        ),
    )
    return {
        "driver_id": event.driver_id,
        "event_id": event.event_id,
        "replayed": replayed,
        "business_date": business_date,
        "day_closed": day_closed,
        "current_deliveries": deliveries,
        "current_revenue": revenue,
        "status": status,
    }


def _apply_all(
    fetch_one: FetchOne,
    events: Sequence[ProgressEvent],
    timezone: str,
    scope: Scope,
    field_of: Callable[[int, str | None], str | None],
) -> list[dict[str, Any]]:
    results = []
    for index, event in enumerate(events):
        try:
            results.append(_apply(fetch_one, event, timezone, scope))
        except DBAPIError as exc:
            translated = translate(exc)
            if translated is None:
                raise
            translated.field = field_of(index, translated.field)
            raise translated from exc
    return results


def record_progress(
    engine: Engine,
    events: Sequence[ProgressEvent],
    *,
    timezone: str,
    late_days: int,
    scope: Scope = EVERYONE,
    batch_field: str | None = None,
) -> list[dict[str, Any]]:
    """Applies the events in order in one transaction: all of them, or none.

    One event is one statement (record_progress() does all of its work), so it runs as its own
    transaction: one round trip. With `batch_field`, an error names the failing event, e.g.
    `events[3].deliveries`. `scope`: a driver may send only their own events (refused before
    anything is written), a team-bound caller only their teams' drivers' (refused by the
    statement, which rolls the whole batch back); its principal is recorded on the ledger.
    """
    zone = ZoneInfo(timezone)
    now = dt.datetime.now(dt.UTC)

    def field_of(index: int, name: str | None) -> str | None:
        if batch_field is None or name is None:
            return name
        return f"{batch_field}[{index}].{name}"

    for index, event in enumerate(events):
        scope.own_driver(
            event.driver_id, rule="report their own progress", field=field_of(index, "driver_id")
        )
        _check_occurred_at(
            event, field_of(index, "occurred_at"), now=now, timezone=zone, late_days=late_days
        )
    if len(events) == 1:
        with prepared_statement(engine) as fetch_one:
            return _apply_all(fetch_one, events, timezone, scope, field_of)
    with transaction(engine) as conn:
        conn.execute(_LOCK_DRIVERS, {"driver_ids": sorted({e.driver_id for e in events})})
        return _apply_all(prepared_on(conn), events, timezone, scope, field_of)
