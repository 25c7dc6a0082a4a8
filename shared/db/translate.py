"""The one place driver errors become service errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pg8000.dbapi
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from shared import errors
from shared.db.pg8000_speedups import is_stale_plan


def sqlstate(exc: DBAPIError) -> str | None:
    """The server's SQLSTATE; pg8000 raises one DatabaseError class for every server error."""
    args = getattr(exc.orig, "args", ())
    if args and isinstance(args[0], dict):
        code = args[0].get("C")
        return code if isinstance(code, str) else None
    return None


def server_detail(exc: DBAPIError, field: str) -> str | None:
    args = getattr(exc.orig, "args", ())
    if args and isinstance(args[0], dict):
        value = args[0].get(field)
        return value if isinstance(value, str) else None
    return None


_NUMERIC_OUT_OF_RANGE = "22003"
_UNAVAILABLE_STATES = {"57P01", "57P02", "57P03", "53300", "57014", "40001", "40P01"}

# Errors our own SQL raises on purpose (see migrations/), by SQLSTATE.
_APP_ERRORS: dict[str, tuple[type[errors.FleetError], str, str | None]] = {
    "FTNDR": (errors.NotFound, "driver_not_found", "driver_id"),
    "FTEID": (errors.Conflict, "event_id_reused", "event_id"),
    "FTNSD": (errors.Conflict, "no_such_day", "occurred_at"),
    "FTFBD": (errors.Forbidden, "forbidden", "driver_id"),
}

# CHECK constraints that guard running totals: breaking one means a correction went below zero.
_NONNEGATIVE_FIELDS = {
    "current_deliveries_nonnegative": "deliveries",
    "deliveries_completed_nonnegative": "deliveries",
    "current_revenue_nonnegative": "revenue",
    "revenue_generated_nonnegative": "revenue",
}


def translate(exc: SQLAlchemyError) -> errors.FleetError | None:
    """The service error a driver failure stands for, or None when it is a bug."""
    if isinstance(exc, PoolTimeoutError):
        return errors.DatabaseUnavailable("no database connection became free in time")
    if not isinstance(exc, DBAPIError):
        return None
    state = sqlstate(exc)
    if isinstance(exc.orig, pg8000.dbapi.DatabaseError) and is_stale_plan(exc.orig):
        # Inside a transaction (in autocommit it is prepared again and run at once): it rolled
        # back, and the statement will be prepared afresh on its next use.
        return errors.DatabaseUnavailable("the schema changed under this request; retry")
    if state in _APP_ERRORS:
        error_type, code, field = _APP_ERRORS[state]
        return error_type(server_detail(exc, "M") or code, code=code, field=field)
    constraint = server_detail(exc, "n")
    if state == "23514" and constraint in _NONNEGATIVE_FIELDS:
        field = _NONNEGATIVE_FIELDS[constraint]
        return errors.Conflict(
            f"this correction would take the day's {field} below zero; nothing was changed",
            code="negative_total",
            field=field,
        )
    if state == _NUMERIC_OUT_OF_RANGE:
        # Input limits are checked first, so only a running total can get here: an int4 count or
        # a NUMERIC(12, 2) amount that this addition would push past what the column holds.
        return errors.Conflict(
            "this addition would take a total past what can be stored; nothing was changed",
            code="total_out_of_range",
        )
    if (
        exc.connection_invalidated
        or isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError)
        or (state is not None and (state.startswith("08") or state in _UNAVAILABLE_STATES))
    ):
        return errors.DatabaseUnavailable("the database is unavailable; retry shortly")
    return None


@contextmanager
def translated_errors() -> Iterator[None]:
    """Driver errors inside leave as service errors (unchanged when they are a bug)."""
    try:
        yield
    except SQLAlchemyError as exc:
        translated = translate(exc)
        if translated is None:
            raise
        # Not logged here: shared.web.endpoint's one line per request names the code and the cause.
        raise translated from exc
