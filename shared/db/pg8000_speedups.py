"""pg8000 with fewer round trips and less work per statement: the dialect, the connection
subclass, prepared statements, placeholders rewritten once per statement text, and dates and
times read without strptime.

They lean on pg8000 members that are not its public API (`_in_transaction`, `execute_simple`,
`execute_unnamed`, `prepare_statement`, `execute_named`, `handle_messages`, `py_types`,
`converters.make_params`, `dbapi.convert_paramstyle`). pyproject.toml pins pg8000 to the minor
versions in TESTED_PG8000_VERSIONS, and `check_pg8000` (run when an engine is built, and by the
tests) refuses a pg8000 whose members moved, naming what is missing, instead of failing on the
first request in some other way.
"""

from __future__ import annotations

import datetime as dt
import functools
import inspect
import time
from typing import Any, cast

import pg8000.converters
import pg8000.dbapi
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.postgresql.pg8000 import PGDialect_pg8000

# The pg8000 minor versions this module is tested on (pyproject.toml pins the same range).
TESTED_PG8000_VERSIONS = ("1.31",)

# pg8000's members this module relies on, with the parameters it passes them.
_RELIED_ON: dict[str, tuple[str, ...]] = {
    "execute_simple": ("statement",),
    "execute_unnamed": ("statement", "vals", "oids", "stream"),
    "prepare_statement": ("statement", "oids"),
    "execute_named": ("statement_name_bin", "params", "columns", "input_funcs", "statement"),
    "handle_messages": ("context",),
}


class Pg8000Mismatch(RuntimeError):
    """The installed pg8000 is not one whose private members this module was written against."""


def check_pg8000() -> None:
    """Raises Pg8000Mismatch naming the first relied-on member that is missing or changed."""
    version: str = pg8000.__version__
    if not version.startswith(tuple(f"{tested}." for tested in TESTED_PG8000_VERSIONS)):
        raise Pg8000Mismatch(
            f"pg8000 {version} is installed; shared.db.pg8000_speedups is tested on "
            f"{', '.join(TESTED_PG8000_VERSIONS)}.x only: check its members, then add the version"
        )
    connection = pg8000.dbapi.Connection
    for name, parameters in _RELIED_ON.items():
        member = getattr(connection, name, None)
        if member is None or tuple(inspect.signature(member).parameters)[1:] != parameters:
            raise Pg8000Mismatch(f"pg8000 {version}: Connection.{name}{parameters} has moved")
    if not isinstance(getattr(connection, "_in_transaction", None), property):
        raise Pg8000Mismatch(f"pg8000 {version}: Connection._in_transaction has moved")
    if tuple(inspect.signature(pg8000.converters.make_params).parameters) != ("py_types", "values"):
        raise Pg8000Mismatch(f"pg8000 {version}: converters.make_params has moved")
    converters = ("date_in", "timestamptz_in", "DATE", "TIMESTAMPTZ")
    for name in converters:
        if not hasattr(pg8000.converters, name):
            raise Pg8000Mismatch(f"pg8000 {version}: converters.{name} has moved")
    if (
        tuple(inspect.signature(_convert_paramstyle).parameters) != ("style", "query", "args")
        or "convert_paramstyle" not in pg8000.dbapi.Cursor.execute.__code__.co_names
    ):
        raise Pg8000Mismatch(f"pg8000 {version}: dbapi.convert_paramstyle has moved")


# pg8000 rewrites every statement's %s into $1, $2, ... on every execute, scanning it character
# by character in Python: ~30 us for the progress event's one statement, a tenth of what our
# code spends on the event. For the `format` paramstyle (SQLAlchemy's for pg8000) the rewritten
# text depends on the statement's text alone and the values pass through as they are, so the
# text is rewritten once. Statements longer than this are rewritten each time, as before: a
# multi-row insert's text grows with its rows, and keeping those would hold megabytes.
_CACHED_STATEMENT_CHARS = 4096
_convert_paramstyle = pg8000.dbapi.convert_paramstyle


@functools.lru_cache(maxsize=1024)
def _numbered(statement: str) -> str:
    numbered: str = _convert_paramstyle("format", statement, ())[0]
    return numbered


def _convert_paramstyle_once(style: str, query: str, args: Any) -> tuple[str, Any]:
    if style != "format" or len(query) > _CACHED_STATEMENT_CHARS:
        converted: tuple[str, Any] = _convert_paramstyle(style, query, args)
        return converted
    return _numbered(query), args


def rewrite_statements_once() -> None:
    """pg8000's cursors rewrite each statement's placeholders once, not on every execute: the
    cursor looks the rewriting up in its module, where this puts the cached one."""
    pg8000.dbapi.convert_paramstyle = _convert_paramstyle_once


# Execution option for a hot statement: run it as a named prepared statement, kept per
# connection. Only for statements whose plan does not depend on their values (a function call,
# a primary-key lookup): PostgreSQL may switch a prepared statement to a generic plan.
_PREPARED_OPTION = "fleet_prepared"
PREPARED = {_PREPARED_OPTION: True}


class FewerRoundTripsDialect(PGDialect_pg8000):
    """pg8000's dialect with fewer round trips per transaction (one progress event: 1, not 8).

    pg8000 sends COMMIT and ROLLBACK as extended-protocol statements, three round trips each
    (parse, describe, execute); as simple queries they take one, with the same errors (a COMMIT
    of a failed transaction still raises). The checkout's pre-ping is skipped for a connection
    that heard from the server within `ping_after_idle` seconds (it is busy, not stale); when it
    runs it is a BEGIN instead of an empty query: it proves the connection alive just as well,
    and opens the transaction pg8000 would otherwise open with a round trip of its own. A
    connection that goes back to the pool still in it is rolled back (do_rollback asks pg8000,
    not SQLAlchemy). AUTOCOMMIT is a flag on the connection, not a SET: `single_statement`
    switches it on and off for each use. Statements executed with PREPARED are parsed once per
    connection and then take one round trip (bind and execute) instead of three.
    """

    # Statement compilation is cached as for pg8000's own dialect; this class adds no SQL.
    supports_statement_cache = True
    ping_after_idle = 0.0

    def do_ping(self, dbapi_connection: Any) -> bool:
        if dbapi_connection.autocommit or dbapi_connection._in_transaction:
            return super().do_ping(dbapi_connection)
        if dbapi_connection.seconds_since_reply() < self.ping_after_idle:
            return True
        dbapi_connection.execute_simple("begin transaction")
        return True

    def do_commit(self, dbapi_connection: Any) -> None:
        dbapi_connection.execute_simple("commit")

    def do_rollback(self, dbapi_connection: Any) -> None:
        if dbapi_connection._in_transaction:
            dbapi_connection.execute_simple("rollback")

    def set_isolation_level(self, dbapi_connection: Any, level: str) -> None:
        if level == "AUTOCOMMIT":
            if dbapi_connection._in_transaction:
                # The pre-ping's BEGIN, with nothing in it yet.
                dbapi_connection.execute_simple("commit")
            dbapi_connection.autocommit = True
            return
        dbapi_connection.autocommit = False
        if level != dbapi_connection.session_isolation_level(self.default_isolation_level):
            super().set_isolation_level(dbapi_connection, level)  # type: ignore[no-untyped-call]
            dbapi_connection.session_isolation = level

    def do_execute(self, cursor: Any, statement: str, parameters: Any, context: Any = None) -> None:
        if context is None or not context.execution_options.get(_PREPARED_OPTION):
            cursor.execute(statement, parameters)
            return
        connection = context.root_connection.connection.dbapi_connection
        connection.prepare_next = True
        try:
            cursor.execute(statement, parameters)
        finally:
            connection.prepare_next = False


registry.register("postgresql.fleet_pg8000", __name__, "FewerRoundTripsDialect")


def _date_in(text: str) -> Any:
    """pg8000's date_in without strptime: PostgreSQL writes a date as YYYY-MM-DD (DateStyle
    ISO), which date.fromisoformat reads in 0.1 us where strptime takes ~4 us and a lock every
    thread shares; what it cannot read (infinity, a year past 9999) goes to pg8000's own."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return pg8000.converters.date_in(text)


def _timestamptz_in(text: str) -> Any:
    """pg8000's timestamptz_in without strptime (~8 us a value): `2026-12-01 14:43:05.12+00`
    is ISO 8601 to datetime.fromisoformat; anything else goes to pg8000's own."""
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        return pg8000.converters.timestamptz_in(text)
    return value if value.tzinfo is not None else pg8000.converters.timestamptz_in(text)


class FleetConnection(pg8000.dbapi.Connection):  # type: ignore[misc]
    """pg8000's connection, with what FewerRoundTripsDialect needs, dates and times read by
    _date_in and _timestamptz_in, and one fix.

    The fix: pg8000 turns socket failures into InterfaceError("network error"), which
    SQLAlchemy takes for a disconnect, except a reset on the first read of a reply: that
    ConnectionResetError escaped raw. A pooled connection the server killed (restart, failover,
    pg_terminate_backend) then failed with an error SQLAlchemy does not know, and the request
    with a 500, instead of being replaced by a new connection.

    The Cloud SQL connector builds pg8000's own class and `adopt` turns it into this one, so
    the state below lives in class defaults until first set.
    """

    last_reply_at = 0.0
    session_isolation: str | None = None
    prepare_next = False
    _prepared: dict[tuple[str, tuple[int, ...]], tuple[bytes, Any, Any]] | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._read_times_fast()

    @classmethod
    def adopt(cls, conn: Any) -> FleetConnection:
        if type(conn) is not pg8000.dbapi.Connection:
            raise TypeError(f"expected pg8000's connection, got {type(conn).__name__}")
        conn.__class__ = cls
        adopted = cast(FleetConnection, conn)
        adopted._read_times_fast()
        return adopted

    def _read_times_fast(self) -> None:
        self.register_in_adapter(pg8000.converters.DATE, _date_in)
        self.register_in_adapter(pg8000.converters.TIMESTAMPTZ, _timestamptz_in)

    def seconds_since_reply(self) -> float:
        return time.monotonic() - self.last_reply_at

    def session_isolation_level(self, default: str) -> str:
        return self.session_isolation or default

    def handle_messages(self, context: Any) -> None:
        try:
            super().handle_messages(context)
        except OSError as exc:
            raise pg8000.dbapi.InterfaceError("network error") from exc
        except pg8000.dbapi.DatabaseError:
            # The server answered (with an error): the connection is alive.
            self.last_reply_at = time.monotonic()
            raise
        self.last_reply_at = time.monotonic()

    def execute_unnamed(
        self, statement: str, vals: Any = (), oids: Any = (), stream: Any = None
    ) -> Any:
        """pg8000's one way to run a statement with values; with `prepare_next` set, through a
        named statement prepared on first use (statements are fixed texts, so the cache is
        bounded by the code)."""
        if not self.prepare_next or stream is not None:
            return super().execute_unnamed(statement, vals=vals, oids=oids, stream=stream)
        self.prepare_next = False
        key = (statement, tuple(oids))
        params = pg8000.converters.make_params(self.py_types, vals)
        try:
            return self._execute_prepared(key, params)
        except pg8000.dbapi.DatabaseError as exc:
            if not is_stale_plan(exc):
                raise
            # A migration changed the columns the statement returns, and PostgreSQL refused
            # the old plan before running anything. Prepared afresh; run again in autocommit
            # (inside a transaction, that transaction has failed: the next use will work). The
            # old statement stays on the server until the connection closes.
            self._statements().pop(key, None)
            if self._in_transaction:
                raise
            return self._execute_prepared(key, params)

    def _statements(self) -> dict[tuple[str, tuple[int, ...]], tuple[bytes, Any, Any]]:
        if self._prepared is None:
            self._prepared = {}
        return self._prepared

    def _execute_prepared(self, key: tuple[str, tuple[int, ...]], params: Any) -> Any:
        statements = self._statements()
        prepared = statements.get(key)
        if prepared is None:
            prepared = self.prepare_statement(*key)
            statements[key] = prepared
        name, columns, input_funcs = prepared
        return self.execute_named(name, params, columns, input_funcs, key[0])


def is_stale_plan(exc: pg8000.dbapi.DatabaseError) -> bool:
    """PostgreSQL's "cached plan must not change result type", by SQLSTATE and the routine that
    raises it (the message text may be translated)."""
    fields = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
    return fields.get("C") == "0A000" and fields.get("R") == "RevalidateCachedQuery"
