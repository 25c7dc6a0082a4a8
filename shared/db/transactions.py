"""Transactions: one committed block, or one statement in autocommit (through SQLAlchemy, or,
for the hot path, straight through pg8000's cursor on the same pool)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol, cast

import pg8000.dbapi
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import PoolProxiedConnection

from shared import errors
from shared.db.pg8000_speedups import PREPARED, FleetConnection
from shared.db.translate import translated_errors


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


class FetchOne(Protocol):
    def __call__(self, statement: str, parameters: Sequence[Any]) -> Sequence[Any]: ...


@contextmanager
def prepared_statement(engine: Engine) -> Iterator[FetchOne]:
    """single_statement for the hot path: `fetch_one(statement, parameters)` runs a statement
    written with pg8000's `%s` placeholders as a prepared statement (pg8000_speedups.PREPARED)
    and returns its one row, straight through pg8000's cursor on a pooled connection, without
    SQLAlchemy's execution context and result objects (~0.12 ms of CPU an event, bench:
    progress_p50). The same pool, pre-ping and autocommit switch (the dialect's own); a
    driver error leaves as SQLAlchemy would raise it, wrapped in DBAPIError, with a broken
    connection invalidated as SQLAlchemy does it, then translated (shared.db.translate)."""
    dialect = engine.dialect
    with translated_errors():
        fairy = _checkout(engine)
        try:
            dbapi_connection = cast(FleetConnection, fairy.dbapi_connection)
            try:
                dialect.set_isolation_level(dbapi_connection, "AUTOCOMMIT")
            except pg8000.dbapi.Error as exc:
                fairy.invalidate(exc)
                raise errors.DatabaseUnavailable(
                    "the database is unavailable; retry shortly"
                ) from exc

            def fetch_one(statement: str, parameters: Sequence[Any]) -> Sequence[Any]:
                cursor = dbapi_connection.cursor()
                try:
                    dbapi_connection.prepare_next = True
                    cursor.execute(statement, parameters)
                    row: Sequence[Any] | None = cursor.fetchone()
                    if row is None:
                        raise LookupError(f"no row from {statement[:60]}...")
                    return row
                except pg8000.dbapi.Error as exc:
                    broken = dialect.is_disconnect(exc, dbapi_connection, cursor)
                    if broken:
                        # As SQLAlchemy's Connection does: this connection, and every one the
                        # pool opened before it (a server restart broke them all), replaced.
                        engine.pool._invalidate(fairy, exc)
                    raise DBAPIError.instance(
                        statement,
                        parameters,
                        exc,
                        pg8000.dbapi.Error,
                        connection_invalidated=broken,
                    ) from exc
                finally:
                    dbapi_connection.prepare_next = False

            yield fetch_one
        finally:
            if fairy.is_valid:
                dialect.reset_isolation_level(dbapi_connection)
            fairy.close()


def prepared_on(conn: Connection) -> FetchOne:
    """prepared_statement's `fetch_one` on a connection SQLAlchemy holds (a transaction's): the
    same statements, through SQLAlchemy's execution and error handling."""

    def fetch_one(statement: str, parameters: Sequence[Any]) -> Sequence[Any]:
        row: Sequence[Any] = conn.exec_driver_sql(
            statement, tuple(parameters), execution_options=PREPARED
        ).one()
        return row

    return fetch_one


def _checkout(engine: Engine) -> PoolProxiedConnection:
    """A pooled connection; what the pool raises from pg8000 (a server that refuses or is down)
    is wrapped as SQLAlchemy's Connection wraps it."""
    try:
        return engine.raw_connection()
    except pg8000.dbapi.Error as exc:
        raise DBAPIError.instance(
            None,
            None,
            exc,
            pg8000.dbapi.Error,
            connection_invalidated=engine.dialect.is_disconnect(exc, None, None),
        ) from exc
