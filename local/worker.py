"""The local server's gunicorn worker: gunicorn's threaded worker with a stop that cannot deadlock
and connections that cannot hold a thread for long.

- gunicorn's quit handler (SIGINT, SIGQUIT) shuts the thread pool down from inside the signal
  handler. Ctrl-C sends SIGINT to the worker and the master forwards SIGQUIT, so it runs twice,
  and when either lands while the main thread is in the pool's submit(), which holds the pool's
  non-reentrant lock, the handler waits for that lock forever: the master SIGKILLs the worker
  after its graceful timeout (30 s). Here every stop signal only ends the worker's loop, which
  then closes down outside any handler.
- A request's headers are gathered by the worker's event loop, without a thread, and a
  connection whose headers are not complete within HEADER_READ_SECONDS is closed; its body is
  read by a thread within BODY_READ_SECONDS. gunicorn gives a thread to a connection as soon as
  its first byte arrives, so clients sending a byte at a time held every thread.
"""

from __future__ import annotations

import math
import selectors
import time
from collections import deque
from functools import partial
from typing import Any

from gunicorn.http.unreader import SocketUnreader  # type: ignore[import-untyped]
from gunicorn.workers.gthread import ThreadWorker  # type: ignore[import-untyped]

HEADER_READ_SECONDS = 5.0
BODY_READ_SECONDS = 30.0
# Beyond gunicorn's own limits (100 fields of 8190 bytes): the parser refuses such headers.
MAX_HEADER_BYTES = 1024 * 1024
_END_OF_HEADERS = b"\r\n\r\n"


class _DeadlineUnreader(SocketUnreader):  # type: ignore[misc]
    """Reads of one request end at `deadline`: past it the client is treated as gone."""

    deadline = math.inf

    def chunk(self, size_hint: int | None = None) -> bytes:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            return b""
        self.sock.settimeout(remaining)
        try:
            data: bytes = super().chunk(size_hint)
            return data
        except TimeoutError:
            return b""
        finally:
            self.sock.settimeout(None)


class LocalWorker(ThreadWorker):  # type: ignore[misc]
    def init_process(self) -> None:
        # Connections whose headers are still arriving, oldest deadline first.
        self.reading: deque[Any] = deque()
        super().init_process()

    def handle_quit(self, sig: int, frame: Any) -> None:
        self.handle_exit(sig, frame)

    def enqueue_req(self, conn: Any) -> None:
        if not conn.initialized:
            # Without TLS or HTTP/2 (neither is configured) init() only makes the parser.
            conn.init()
            conn.parser.unreader = _DeadlineUnreader(conn.sock)
        buffered = conn.parser.unreader.buf.getvalue()
        if not self.alive or _END_OF_HEADERS in buffered or len(buffered) > MAX_HEADER_BYTES:
            self._submit(conn, BODY_READ_SECONDS if self.alive else HEADER_READ_SECONDS)
            return
        conn.sock.setblocking(False)
        conn.header_deadline = time.monotonic() + HEADER_READ_SECONDS
        self.reading.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._read_headers, conn))

    def _submit(self, conn: Any, seconds: float) -> None:
        conn.sock.setblocking(True)
        conn.parser.unreader.deadline = time.monotonic() + seconds
        super().enqueue_req(conn)

    def _read_headers(self, conn: Any, _sock: Any) -> None:
        try:
            data = conn.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._drop(conn)
            return
        buffer = conn.parser.unreader.buf
        buffer.seek(0, 2)
        buffer.write(data)
        text = buffer.getvalue()
        if _END_OF_HEADERS in text or len(text) > MAX_HEADER_BYTES:
            self._stop_reading(conn)
            self._submit(conn, BODY_READ_SECONDS)

    def _stop_reading(self, conn: Any) -> None:
        self.poller.unregister(conn.sock)
        self.reading.remove(conn)

    def _drop(self, conn: Any) -> None:
        self._stop_reading(conn)
        self.nr_conns -= 1
        conn.close()

    def murder_pending(self) -> None:
        """gunicorn's run loop calls this every second, and while stopping: it closes the
        connections whose headers are late, or all of them once the worker stops."""
        super().murder_pending()
        now = time.monotonic()
        while self.reading and (not self.alive or self.reading[0].header_deadline <= now):
            self._drop(self.reading[0])
