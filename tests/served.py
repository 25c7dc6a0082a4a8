"""The real local server (`fleet serve`) as a subprocess: its port, its stdout lines, HTTP calls.

For tests that need what only a real process shows: its log lines, its pool surviving a
database outage, several processes starting at once, a process killed mid-way.
"""

from __future__ import annotations

import http.client
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.helpers import PROJECT_ROOT, child_env, free_port

START_TIMEOUT = 60.0


class _Lines:
    """Collects a pipe's lines on a thread, so the child never blocks on a full pipe."""

    def __init__(self, stream: Any) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    def join(self) -> None:
        self._thread.join(timeout=10)


class Server:
    def __init__(self, database_url: str, **settings: str) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ops.cli", "serve", "--port", str(self.port)],
            cwd=PROJECT_ROOT,
            env=child_env(database_url, **settings),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stdout = _Lines(self.process.stdout)
        self.stderr = _Lines(self.process.stderr)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.stderr.join()
                raise AssertionError("server exited:\n" + "\n".join(self.stderr.lines))
            try:
                if self.call("GET", "/openapi.json")[0] == 200:
                    return
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"server not up within {START_TIMEOUT} s")

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
        chunked: bool = False,
        timeout: float = 30,
    ) -> tuple[int, Any]:
        """(status, parsed JSON body) of one request on a fresh connection; `chunked` sends the
        body in 64 KiB chunks without a Content-Length."""
        sent_headers = dict(headers or {})
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
        if data is not None:
            sent_headers.setdefault("Content-Type", "application/json")
        sent: Any = data
        if chunked and data is not None:
            sent = (data[i : i + 65536] for i in range(0, len(data), 65536))
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=sent, headers=sent_headers, encode_chunked=chunked)
            response = conn.getresponse()
            payload = response.read()
        finally:
            conn.close()
        return response.status, json.loads(payload) if payload else None

    def json_lines(self) -> list[dict[str, Any]]:
        """Every stdout line so far, each parsed (a line that is not JSON fails the test)."""
        return [json.loads(line) for line in list(self.stdout.lines)]

    def wait_for_lines(self, match: Any, count: int = 1, start: int = 0) -> list[dict[str, Any]]:
        """The JSON lines from index `start` that `match`, once there are at least `count`: a
        line is written before the response is sent but read here on another thread."""
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            found = [line for line in self.json_lines()[start:] if match(line)]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.02)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.stdout.join()
        self.stderr.join()
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


@contextmanager
def serving(database_url: str, **settings: str) -> Iterator[Server]:
    server = Server(database_url, **settings)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()
