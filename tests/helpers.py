"""The helpers every test shares: JSON calls through the served functions, the fleet's common
requests, dates, history rows, settings and databases, ports and child processes' environment.

One copy each: a test module keeps only what is its own.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shlex
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pg8000.dbapi
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from werkzeug.test import Client, TestResponse

from local.embedded import ensure_database
from shared.db.connect import pg8000_params_from_url
from shared.db.instance import close_engine, get_engine
from shared.settings import get_settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# --- calls through the served functions --------------------------------------------------------


def post(client: Client, function: str, body: Any, **kwargs: Any) -> TestResponse:
    return client.post(
        f"/{function}", data=json.dumps(body), content_type="application/json", **kwargs
    )


def get(client: Client, function: str, **params: Any) -> TestResponse:
    return client.get(f"/{function}", query_string=params)


def error_of(response: TestResponse) -> dict[str, Any]:
    body = response.get_json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "field"}, body
    return dict(body["error"])


def new_driver_id() -> str:
    return f"drv-{uuid.uuid4().hex[:10]}"


def set_target(
    client: Client, *driver_ids: str, deliveries: int = 10, revenue: str = "0", **fields: Any
) -> None:
    """The same target for each driver (and `fields`, e.g. team), in one set_targets batch."""
    drivers = [
        {"driver_id": d, "target_deliveries": deliveries, "target_revenue": revenue, **fields}
        for d in driver_ids
    ]
    response = post(client, "set_targets", drivers)
    assert response.status_code == 200, response.get_json()


def send_progress(client: Client, driver_id: str, **fields: Any) -> TestResponse:
    """One update_progress call, whatever it answers."""
    return post(client, "update_progress", {"driver_id": driver_id, **fields})


def progress(client: Client, driver_id: str, **fields: Any) -> dict[str, Any]:
    """One update_progress call that must succeed: its reply."""
    response = send_progress(client, driver_id, **fields)
    assert response.status_code == 200, response.get_json()
    return dict(response.get_json())


def close_day(client: Client, day: dt.date, reset: bool = True) -> dict[str, Any]:
    """snapshot_daily for `day`, which must succeed: its reply."""
    response = post(client, "snapshot_daily", {"date": day.isoformat(), "reset": reset})
    assert response.status_code == 200, response.get_json()
    return dict(response.get_json())


# --- dates (UTC, the suite's FLEET_TIMEZONE) ---------------------------------------------------


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def days_ago(days: int) -> dt.date:
    return today() - dt.timedelta(days=days)


def noon(day: dt.date) -> str:
    """12:00 UTC on `day`, as an occurred_at."""
    return dt.datetime.combine(day, dt.time(12), dt.UTC).isoformat()


# --- rows written with SQL ---------------------------------------------------------------------

_HISTORY_ROW = sa.text(
    "INSERT INTO driver_performance_history (driver_id, date, team, deliveries_completed,"
    " revenue_generated, target_deliveries, target_revenue, active_seconds)"
    " VALUES (:driver_id, :date, :team, :deliveries, :revenue, 10, 100, :active_seconds)"
)


def add_history(engine: Engine, *rows: dict[str, Any]) -> None:
    """Closed days written directly: each row has driver_id, date and deliveries, and may have
    revenue, team and active_seconds (0, none, 0). Every target is 10 deliveries, 100 revenue."""
    defaults = {"revenue": 0, "team": None, "active_seconds": 0}
    with engine.begin() as conn:
        conn.execute(_HISTORY_ROW, [{**defaults, **row} for row in rows])


# --- settings and databases --------------------------------------------------------------------


@contextmanager
def settings_env(**values: str) -> Iterator[None]:
    """Sets environment settings for the block (the settings cache is rebuilt both ways)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    get_settings.cache_clear()
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old
        get_settings.cache_clear()


def use_database(url: str, **settings: str) -> None:
    """Points the process's settings and engine at `url` (the engine is rebuilt on next use)."""
    close_engine()
    os.environ["DATABASE_URL"] = url
    os.environ.update(settings)
    get_settings.cache_clear()


@contextmanager
def using_database(url: str, **settings: str) -> Iterator[str]:
    """The functions and get_engine() use `url` (and `settings`) inside the block; afterwards
    whatever database and settings were in use before."""
    close_engine()
    try:
        with settings_env(DATABASE_URL=url, **settings):
            yield url
    finally:
        close_engine()


def current_database_url() -> str:
    """The URL of the database the functions use now."""
    url = get_settings().database_url
    assert url is not None
    return url.get_secret_value()


def database_url(server_url: str, name: str, password: str | None = None) -> str:
    """Database `name` on the server of `server_url` (with another password, if given)."""
    url = make_url(server_url).set(database=name)
    if password is not None:
        url = url.set(password=password)
    return url.render_as_string(hide_password=False)


def admin(server_url: str, statement: str, params: tuple[Any, ...] = ()) -> Any:
    """One statement outside a transaction (CREATE/DROP DATABASE): its first row, if any."""
    conn = pg8000.dbapi.connect(**pg8000_params_from_url(server_url))
    try:
        conn.autocommit = True
        cursor = conn.cursor()
        cursor.execute(statement, params)
        return cursor.fetchone() if cursor.description else None
    finally:
        conn.close()


def drop_database(server_url: str, name: str) -> None:
    (quoted,) = admin(server_url, "SELECT quote_ident(%s)", (name,))
    admin(server_url, f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")


class Databases:
    """Throwaway databases on the test server, dropped at the end of the run (with
    `drop_at_end`: an embedded server is deleted whole instead)."""

    def __init__(self, server_url: str, drop_at_end: bool = True) -> None:
        self.server_url = server_url
        self.drop_at_end = drop_at_end
        self.created: list[str] = []
        self._template: str | None = None

    def _new_name(self) -> str:
        name = f"fleet_test_{uuid.uuid4().hex[:12]}"
        self.created.append(name)
        return name

    def create(self) -> str:
        """An empty database."""
        name = self._new_name()
        ensure_database(self.server_url, name)
        return database_url(self.server_url, name)

    def create_migrated(self) -> str:
        """A database with every migration applied: a copy of one migrated once per run (as the
        functions migrate, on first use), which nothing stays connected to."""
        if self._template is None:
            url = self.create()
            with using_database(url, MIGRATE_ON_START="true"):
                get_engine()
            self._template = make_url(url).database
        name = self._new_name()
        admin(self.server_url, f'CREATE DATABASE "{name}" TEMPLATE "{self._template}"')
        return database_url(self.server_url, name)

    def drop_all(self) -> None:
        if self.drop_at_end:
            for name in self.created:
                drop_database(self.server_url, name)


# --- ports and child processes -----------------------------------------------------------------

DATABASE_VARIABLES = ("DATABASE_URL", "INSTANCE_CONNECTION_NAME", "DB_HOST")


class LoopbackHTTP:
    """An http.server handler class served on a free 127.0.0.1 port from a thread of its own,
    a thread per request, until close(): the tests' stand-ins for the services beside ours
    (an issuer's JWKS, Identity Platform, Google's admin API)."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        # A short poll: shutdown() waits for the loop to look (0.5 s by default), in every test.
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join()


def free_port() -> int:
    """A port nothing listens on once this returns."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def unreachable_url(database: str = "fleet") -> str:
    """A database URL on a port nothing listens on."""
    return f"postgresql://postgres@127.0.0.1:{free_port()}/{database}"


def child_env(database_url: str | None = None, **overrides: str) -> dict[str, str]:
    """This process's environment for a child process: none of the database variables but
    `database_url` (migrated on start), no execution id, UTC, unbuffered output; `overrides`
    last."""
    dropped = {*DATABASE_VARIABLES, "LOG_EXECUTION_ID"}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(FLEET_TIMEZONE="UTC", PYTHONUNBUFFERED="1")
    if database_url is not None:
        env.update(DATABASE_URL=database_url, MIGRATE_ON_START="true")
    env.update(overrides)
    return env


# --- the deploy script -------------------------------------------------------------------------

DEPLOY_SCRIPT = PROJECT_ROOT / "deploy" / "deploy.py"


def run_deploy(*args: str) -> subprocess.CompletedProcess[str]:
    """deploy/deploy.py with `args`, and no gcloud on PATH: a dry run must not need it."""
    return subprocess.run(
        [sys.executable, str(DEPLOY_SCRIPT), *args],
        capture_output=True,
        text=True,
        env={"PATH": "/nonexistent"},
        check=False,
    )


def deploy_plan(*args: str) -> list[list[str]]:
    """The commands `deploy.py ARGS --dry-run` prints, each split as a shell would (no notes)."""
    result = run_deploy(*args, "--dry-run")
    assert result.returncode == 0, result.stderr
    return [shlex.split(line) for line in result.stdout.splitlines() if line[:1] not in ("#", "")]
