"""A webhook receiver on 127.0.0.1 inside the test process: records every request and answers
with the next scripted behaviour (a status code, or a pause longer than the sender's timeout)."""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.helpers import settings_env

# settings_env lives in tests.helpers; still importable from here.
__all__ = ["Pause", "Received", "Receiver", "running_receiver", "settings_env"]


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Pause:
    seconds: float
    status: int = 200


class Receiver:
    def __init__(self, server: ThreadingHTTPServer, scheme: str) -> None:
        self.server = server
        self.scheme = scheme
        self.requests: list[Received] = []
        self.script: list[int | Pause] = []
        self.delay = 0.0
        self.in_flight: dict[str, int] = {}
        self.max_in_flight_per_id = 0
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        port = self.server.server_address[1]
        host = "localhost" if self.scheme == "https" else "127.0.0.1"
        return f"{self.scheme}://{host}:{port}/hooks"

    def ids(self) -> list[str]:
        return [r.headers["webhook-id"] for r in self.requests]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            message_id = self.headers.get("webhook-id", "")
            with receiver.lock:
                receiver.requests.append(Received(self.path, dict(self.headers.items()), body))
                behaviour = receiver.script.pop(0) if receiver.script else 200
                receiver.in_flight[message_id] = receiver.in_flight.get(message_id, 0) + 1
                receiver.max_in_flight_per_id = max(
                    receiver.max_in_flight_per_id, receiver.in_flight[message_id]
                )
            try:
                status = behaviour
                if isinstance(behaviour, Pause):
                    time.sleep(behaviour.seconds)
                    status = behaviour.status
                elif receiver.delay:
                    time.sleep(receiver.delay)
                assert isinstance(status, int)
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()
            except OSError:
                pass  # the sender gave up (timeout) and closed the connection
            finally:
                with receiver.lock:
                    receiver.in_flight[message_id] -= 1

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


class _Server(ThreadingHTTPServer):
    # Concurrent deliverers connect many at once; the default backlog of 5 would drop some.
    request_queue_size = 128
    daemon_threads = True


@contextmanager
def running_receiver(tls: tuple[Path, Path] | None = None) -> Iterator[Receiver]:
    """http on 127.0.0.1; with tls=(certificate, key), https (as https://localhost:port)."""
    server = _Server(("127.0.0.1", 0), BaseHTTPRequestHandler)
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    receiver = Receiver(server, "https" if tls else "http")
    server.RequestHandlerClass = _handler(receiver)
    # A short poll: shutdown() waits for the loop to see it, 0.5 s by default, once per test.
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
