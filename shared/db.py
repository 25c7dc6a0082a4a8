"""The engine: one per process, built on first use, and the one place driver errors are translated.

In the cloud (INSTANCE_CONNECTION_NAME set) connections come from the Cloud SQL Python Connector
with pg8000; locally from DATABASE_URL or the DB_HOST/DB_PORT/... variables. Either way SQLAlchemy
gets a `creator`, so pooling, pre-ping and the per-connection setup are the same on both paths.
"""

from __future__ import annotations

import atexit
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol, cast

import pg8000.dbapi
import sqlalchemy as sa
from pg8000.converters import make_params
from sqlalchemy import event
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.postgresql.pg8000 import PGDialect_pg8000
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from shared import errors
from shared.settings import Settings, get_settings


class ConnectorLike(Protocol):
    def connect(self, instance_connection_string: str, driver: str, **kwargs: Any) -> Any: ...

    def close(self) -> None: ...


ConnectorFactory = Callable[..., ConnectorLike]


def _default_connector_factory(**kwargs: Any) -> ConnectorLike:
    # Imported here: the connector pulls in google-auth and aiohttp, which local runs never need
    # and which would otherwise add to every cold start's import time.
    from google.cloud.sql.connector import Connector

    connector: ConnectorLike = Connector(**kwargs)
    return connector


def _tls(enabled: bool) -> ssl.SSLContext | bool:
    """pg8000's `ssl_context`: verified TLS, or none at all. Its default (None) tries TLS with no
    certificate check, the earlier service's defect, so it is never left to the default."""
    return ssl.create_default_context() if enabled else False


def pg8000_params_from_url(url: str) -> dict[str, Any]:
    """pg8000 keyword arguments for a libpq-style URL (a `?host=/dir` names a Unix socket dir)."""
    parsed = make_url(url)
    params: dict[str, Any] = {
        "user": parsed.username or "postgres",
        "database": parsed.database or "postgres",
    }
    if parsed.password:
        params["password"] = parsed.password
    socket_dir = parsed.query.get("host")
    if isinstance(socket_dir, str) and socket_dir.startswith("/"):
        params["unix_sock"] = f"{socket_dir}/.s.PGSQL.{parsed.port or 5432}"
    else:
        params["host"] = parsed.host or "localhost"
        params["port"] = parsed.port or 5432
    # Any sslmode that asks for TLS gets it verified (certificate and host name).
    params["ssl_context"] = _tls(
        parsed.query.get("sslmode") in {"require", "verify-ca", "verify-full"}
    )
    return params


def _local_params(settings: Settings) -> dict[str, Any]:
    if settings.database_url is not None:
        return pg8000_params_from_url(settings.database_url.get_secret_value())
    params: dict[str, Any] = {
        "host": settings.db_host,
        "port": settings.db_port,
        "database": settings.db_name,
        "user": settings.db_user,
    }
    if settings.db_password is not None:
        params["password"] = settings.db_password.get_secret_value()
    # Verified TLS: the earlier service turned verification off (rejectUnauthorized: false).
    params["ssl_context"] = _tls(settings.db_ssl)
    return params


class EngineBundle:
    """An engine and the connector that feeds it (None locally), closed together."""

    def __init__(self, engine: Engine, connector: ConnectorLike | None) -> None:
        self.engine = engine
        self.connector = connector

    def close(self) -> None:
        self.engine.dispose()
        if self.connector is not None:
            self.connector.close()


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


class FleetConnection(pg8000.dbapi.Connection):  # type: ignore[misc]
    """pg8000's connection, with what FewerRoundTripsDialect needs and one fix.

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

    @classmethod
    def adopt(cls, conn: Any) -> FleetConnection:
        if type(conn) is not pg8000.dbapi.Connection:
            raise TypeError(f"expected pg8000's connection, got {type(conn).__name__}")
        conn.__class__ = cls
        return cast(FleetConnection, conn)

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
        params = make_params(self.py_types, vals)
        try:
            return self._execute_prepared(key, params)
        except pg8000.dbapi.DatabaseError as exc:
            if not _is_stale_plan(exc):
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


def _is_stale_plan(exc: pg8000.dbapi.DatabaseError) -> bool:
    """PostgreSQL's "cached plan must not change result type", by SQLSTATE and the routine that
    raises it (the message text may be translated)."""
    fields = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
    return fields.get("C") == "0A000" and fields.get("R") == "RevalidateCachedQuery"


def build_engine(
    settings: Settings, connector_factory: ConnectorFactory = _default_connector_factory
) -> EngineBundle:
    connector: ConnectorLike | None = None
    creator: Callable[[], Any]
    if settings.instance_connection_name:
        connector = connector_factory(
            ip_type=settings.db_ip_type,
            enable_iam_auth=settings.db_iam_auth,
            # Background refresh stalls when Cloud Functions throttle the CPU between requests.
            refresh_strategy="lazy",
        )
        connect_kwargs: dict[str, Any] = {"user": settings.db_user, "db": settings.db_name}
        if not settings.db_iam_auth and settings.db_pass is not None:
            connect_kwargs["password"] = settings.db_pass.get_secret_value()
        instance = settings.instance_connection_name
        bound_connector = connector

        def creator() -> Any:
            return FleetConnection.adopt(
                bound_connector.connect(instance, "pg8000", **connect_kwargs)
            )

    else:
        params = _local_params(settings)

        def creator() -> Any:
            try:
                return FleetConnection(**params)
            except ssl.SSLError as exc:
                # pg8000 lets a failed TLS handshake (say, an unverifiable certificate) escape
                # as-is; as a driver error it is a connection failure (503), not a bug (500).
                reason = getattr(exc, "verify_message", None) or exc.reason or "handshake failed"
                raise pg8000.dbapi.InterfaceError(f"TLS to the database failed: {reason}") from exc

    engine = sa.create_engine(
        "postgresql+fleet_pg8000://",
        creator=creator,
        # A handful per instance: functions-framework serves a few threads per instance, and
        # max instances x (pool_size + max_overflow) must fit the server's max_connections.
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,
        pool_recycle=settings.db_pool_recycle,
        # A connection killed while idle (restart, failover, idle limits) is replaced, not used.
        pool_pre_ping=True,
        # The most recently used connection first: under light load one connection stays busy
        # (no ping, its statements prepared) while the others idle until they are needed.
        pool_use_lifo=True,
    )
    assert isinstance(engine.dialect, FewerRoundTripsDialect)
    engine.dialect.ping_after_idle = settings.db_ping_after_idle_seconds
    _set_session_defaults(engine, settings)
    return EngineBundle(engine, connector)


def _set_session_defaults(engine: Engine, settings: Settings) -> None:
    # On the connector path pg8000's own timeout does not apply (the connector opens the socket),
    # so the bound on a stuck statement is set server-side.
    timeout_ms = settings.db_statement_timeout_ms

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("SELECT set_config('statement_timeout', %s, false)", (str(timeout_ms),))
        cursor.close()
        dbapi_connection.commit()


_lock = threading.Lock()
_bundle: EngineBundle | None = None


def get_engine() -> Engine:
    """The process's engine; the first call builds it and applies pending migrations."""
    global _bundle
    if _bundle is None:
        with _lock:
            if _bundle is None:
                settings = get_settings()
                bundle = build_engine(settings)
                if settings.migrate_on_start:
                    from shared.migrate import migrate

                    try:
                        with translated_errors():
                            migrate(bundle.engine)
                    except BaseException:
                        bundle.close()
                        raise
                _bundle = bundle
    return _bundle.engine


def close_engine() -> None:
    """Closes the pool and the connector (shutdown, or tests switching databases)."""
    global _bundle
    with _lock:
        if _bundle is not None:
            _bundle.close()
            _bundle = None


# Shutdown: Cloud Run sends SIGTERM, functions-framework's gunicorn worker leaves its loop and
# exits normally, so the pool's connections and the connector's refresh are closed, not dropped.
atexit.register(close_engine)


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
    if isinstance(exc.orig, pg8000.dbapi.DatabaseError) and _is_stale_plan(exc.orig):
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
        # Not logged here: shared.http's one line per request names the code and the cause.
        raise translated from exc


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """One transaction, committed when the block ends without error."""
    with translated_errors(), engine.begin() as conn:
        yield conn


@contextmanager
def single_statement(engine: Engine) -> Iterator[Connection]:
    """A connection in autocommit, for work done in one statement, which PostgreSQL runs as a
    transaction of its own: no BEGIN and COMMIT round trips around it."""
    with translated_errors(), engine.connect() as conn:
        try:
            conn.execution_options(isolation_level="AUTOCOMMIT")
        except pg8000.dbapi.Error as exc:
            # Only the COMMIT of the pre-ping's empty BEGIN can fail here, on a connection that
            # broke since; SQLAlchemy does not wrap errors raised while it sets an isolation level.
            conn.invalidate()
            raise errors.DatabaseUnavailable("the database is unavailable; retry shortly") from exc
        yield conn
