"""Transactions: one committed block, or one statement in autocommit."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pg8000.dbapi
from sqlalchemy.engine import Connection, Engine

from shared import errors
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
