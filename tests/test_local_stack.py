"""The real local server (`fleet serve`) end to end: the seed report's own verification steps
(POST a bare array, GET it back, restart, GET again), curl-style requests, a clean SIGTERM, and
the embedded PostgreSQL that keeps its data in FLEET_DATA_DIR and stops with the server."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.helpers import PROJECT_ROOT, child_env, free_port

pytestmark = pytest.mark.slow

FLEET = Path(sys.executable).parent / "fleet"
START_TIMEOUT = 90
STOP_TIMEOUT = 60


def call(port, method, path, body=None, *, raw=None, headers=None):
    """(status, JSON) of one request, as `curl -s -X METHOD ... -H ... -d ...` sends it."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=data, method=method, headers=headers or {}
    )
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


class Server:
    """`fleet serve --port P` as a child process; its output goes to files (never a full pipe)."""

    def __init__(self, log_dir, **env):
        self.port = free_port()
        self.log_dir = log_dir
        self.stderr_path = log_dir / f"server-{self.port}.err"
        with (
            open(log_dir / f"server-{self.port}.out", "w") as out,
            open(self.stderr_path, "w") as err,
        ):
            self.process = subprocess.Popen(
                [str(FLEET), "serve", "--port", str(self.port)],
                cwd=PROJECT_ROOT,
                env=child_env(**env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
            )

    def wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited: {self.stderr_path.read_text()}")
            try:
                if call(self.port, "GET", "/get_targets?limit=1")[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"server not answering after {START_TIMEOUT} s")

    def terminate(self):
        """SIGTERM, as Ctrl-C or a container stop sends it; answers the exit code."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=STOP_TIMEOUT)

    def stop_if_running(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def own_dir():
    """A directory for the servers' logs and data, outside pytest's basetemp: a pytest run
    started meanwhile (by anyone) prunes older basetemps, data directory included."""
    path = Path(tempfile.mkdtemp(prefix="fleet-stack-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def start(own_dir):
    started = []

    def start_server(**env):
        server = Server(own_dir, **env)
        started.append(server)
        return server.wait_ready()

    yield start_server
    for server in started:
        server.stop_if_running()
    # A server that failed to stop its embedded PostgreSQL must not leave it running.
    for pid in postgres_processes_for(own_dir):
        os.kill(pid, signal.SIGKILL)


SEED_TARGET = [{"driver_id": "TEST_001", "target_deliveries": 50, "target_revenue": 5000}]


def seed_steps_before_restart(port):
    assert call(port, "POST", "/set_targets", SEED_TARGET) == (200, {"count": 1})
    status, body = call(port, "GET", "/get_targets?driver_id=TEST_001")
    assert status == 200
    assert (body["target_deliveries"], body["target_revenue"]) == (50, 5000)


def seed_steps_after_restart(port):
    status, body = call(port, "GET", "/get_targets?driver_id=TEST_001")
    assert status == 200
    assert (body["target_deliveries"], body["target_revenue"]) == (50, 5000)
    status, page = call(port, "GET", "/get_targets")
    assert status == 200
    assert "TEST_001" in [d["driver_id"] for d in page["drivers"]]


def test_seed_verification_steps_survive_a_restart(databases, start):
    url = databases.create()
    server = start(DATABASE_URL=url)
    seed_steps_before_restart(server.port)
    assert server.terminate() == 0

    again = start(DATABASE_URL=url)
    seed_steps_after_restart(again.port)
    assert again.terminate() == 0


def test_curl_style_requests_reach_every_function(databases, start):
    port = start(DATABASE_URL=databases.create()).port
    assert call(port, "POST", "/set_targets", SEED_TARGET)[0] == 200
    status, event = call(
        port,
        "POST",
        "/update_progress",
        raw=b'{"driver_id": "TEST_001", "deliveries": 1, "revenue": "42.50", "status": "busy",'
        b' "event_id": "app-7f3a-0001"}',
    )
    assert status == 200
    assert (event["current_deliveries"], event["current_revenue"], event["replayed"]) == (
        1,
        42.5,
        False,
    )
    status, batch = call(
        port,
        "POST",
        "/update_progress",
        {
            "events": [
                {"driver_id": "TEST_001", "deliveries": 2, "event_id": "app-7f3a-0002"},
                {"driver_id": "TEST_001", "deliveries": -1, "event_id": "app-7f3a-0003"},
            ]
        },
    )
    assert (status, batch["count"]) == (200, 2)
    status, page = call(port, "GET", "/get_targets?limit=100&status=busy")
    assert status == 200
    assert [(d["driver_id"], d["current_deliveries"]) for d in page["drivers"]] == [("TEST_001", 2)]

    status, closed = call(port, "POST", "/snapshot_daily")  # no body: yesterday
    assert (status, closed["drivers_snapshotted"], closed["already_done"]) == (200, 0, False)
    today = event["business_date"]
    status, closed = call(port, "POST", "/snapshot_daily", {"date": today, "reset": False})
    assert (status, closed["drivers_snapshotted"], closed["reset"]) == (200, 1, False)
    status, history = call(port, "GET", "/get_history?driver_id=TEST_001&days=7")
    assert status == 200
    assert [
        (h["date"], h["deliveries_completed"], h["revenue_generated"]) for h in history["history"]
    ] == [(today, 2, 42.5)]
    status, board = call(port, "GET", "/top_performers?days=30&limit=10&metric=deliveries")
    assert status == 200
    assert [(p["rank"], p["driver_id"], p["total_deliveries"]) for p in board["performers"]] == [
        (1, "TEST_001", 2)
    ]

    status, error = call(port, "GET", "/set_targets")
    assert status == 405
    assert error["error"]["code"] == "method_not_allowed"
    status, error = call(port, "GET", "/no_such_function")
    assert status == 404
    assert call(port, "POST", "/set_targets", raw=b"[{")[0] == 400


def test_concurrent_calls_to_the_real_server_lose_nothing(databases, start):
    port = start(DATABASE_URL=databases.create()).port
    assert call(port, "POST", "/set_targets", [{"driver_id": "busy-driver"}])[0] == 200
    threads, per_thread = 8, 15

    def increments(_):
        event = {"driver_id": "busy-driver", "deliveries": 1, "revenue": "0.10"}
        return [call(port, "POST", "/update_progress", event)[0] for _ in range(per_thread)]

    def replay(_):
        event = {"driver_id": "busy-driver", "deliveries": 5, "event_id": "once"}
        return call(port, "POST", "/update_progress", event)

    with ThreadPoolExecutor(threads) as pool:
        statuses = [s for batch in pool.map(increments, range(threads)) for s in batch]
        replays = list(pool.map(replay, range(threads)))
    assert statuses == [200] * threads * per_thread
    assert sorted(body["replayed"] for _, body in replays) == [False] + [True] * (threads - 1)
    status, body = call(port, "GET", "/get_targets?driver_id=busy-driver")
    assert status == 200
    assert (body["current_deliveries"], body["current_revenue"]) == (
        threads * per_thread + 5,
        threads * per_thread / 10,
    )


def postgres_processes_for(data_dir):
    """Process ids whose command line names the data directory (the embedded server's)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if f"{data_dir}{os.sep}" in command and "postgres" in command:
            found.append(int(entry.name))
    return found


def test_embedded_postgres_keeps_data_and_stops_with_the_server(own_dir, start):
    data_dir = own_dir / "fleet-data"
    server = start(FLEET_DATA_DIR=str(data_dir))
    assert postgres_processes_for(data_dir), "the server should run its own PostgreSQL"
    seed_steps_before_restart(server.port)
    assert server.terminate() == 0
    assert postgres_processes_for(data_dir) == []

    again = start(FLEET_DATA_DIR=str(data_dir))
    seed_steps_after_restart(again.port)
    assert again.terminate() == 0
    assert postgres_processes_for(data_dir) == []
    assert not (data_dir / "pgdata" / "postmaster.pid").exists()
