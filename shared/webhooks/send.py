"""One signed POST to a subscriber, to the very address that was checked, within its timeout.

The URL is checked again before each send (shared.webhooks.urls) and the connection goes to one
of the addresses that check returned, never a fresh lookup (DNS rebinding); a watchdog bounds the
whole exchange, not just each read.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
import time
from dataclasses import dataclass

from shared.errors import FleetError
from shared.settings import Settings
from shared.webhooks.signing import signature
from shared.webhooks.urls import Destination, check_url

# How much of a receiver's answer is read (and then ignored).
MAX_RESPONSE_BYTES = 64 * 1024
MAX_ERROR_CHARS = 300


@dataclass(frozen=True)
class Claimed:
    id: int
    attempts: int
    subscription_id: str
    url: str
    secret: str
    message_id: str
    body: str


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status_code: int | None = None
    error: str | None = None


def _connect_checked(destination: Destination, deadline: float) -> socket.socket:
    """A connection to the first of the checked addresses that answers (never a new lookup),
    all attempts together within the send's deadline."""
    failure: OSError | None = None
    for address in destination.addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            return socket.create_connection((address, destination.port), remaining)
        except OSError as exc:
            failure = exc
    raise failure or TimeoutError("no address answered in time")


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to an address that was checked, whatever the name resolves to now."""

    def __init__(self, destination: Destination, timeout: float, deadline: float) -> None:
        super().__init__(destination.host, destination.port, timeout=timeout)
        self._destination = destination
        self._deadline = deadline

    def connect(self) -> None:
        self.sock = _connect_checked(self._destination, self._deadline)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """As above, with TLS verified against the URL's host name (SNI and certificate)."""

    def __init__(self, destination: Destination, timeout: float, deadline: float) -> None:
        self._tls = ssl.create_default_context()
        super().__init__(destination.host, destination.port, timeout=timeout, context=self._tls)
        self._destination = destination
        self._deadline = deadline

    def connect(self) -> None:
        raw = _connect_checked(self._destination, self._deadline)
        self.sock = self._tls.wrap_socket(raw, server_hostname=self.host)


def _cut_off(connection: http.client.HTTPConnection, fired: threading.Event) -> None:
    """Ends an exchange that ran out of time: a blocked read returns at once."""
    fired.set()
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def send(claimed: Claimed, settings: Settings) -> Outcome:
    """One signed POST. 2xx within the timeout is delivered; redirects are not followed."""
    started = time.monotonic()
    try:
        destination = check_url(
            claimed.url, allow_loopback_http=settings.webhooks_allow_loopback_http
        )
    except FleetError as exc:
        return Outcome(ok=False, error=f"refused: {exc.message}")
    timestamp = int(time.time())
    body = claimed.body.encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "fleet-targets-webhooks",
        "Host": destination.host_header,
        "webhook-id": claimed.message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(
            claimed.secret, message_id=claimed.message_id, timestamp=timestamp, body=body
        ),
    }
    timeout = settings.webhook_timeout_seconds
    connection_type = (
        _PinnedHTTPSConnection if destination.scheme == "https" else _PinnedHTTPConnection
    )
    connection = connection_type(destination, timeout, deadline=started + timeout)
    # A socket timeout bounds each read, not the exchange: a receiver that drips its answer a byte
    # at a time would hold the delivery past its lease, and another run would send it again.
    cut_off = threading.Event()
    watchdog = threading.Timer(
        max(started + timeout - time.monotonic(), 0), _cut_off, [connection, cut_off]
    )
    watchdog.start()
    try:
        connection.request("POST", destination.target, body=body, headers=headers)
        response = connection.getresponse()
        response.read(MAX_RESPONSE_BYTES)
    except Exception as exc:
        # Whatever one receiver does (or its URL makes http.client do) is that delivery's
        # failure, never the run's: the rest of the batch must still be recorded.
        if cut_off.is_set():
            return Outcome(ok=False, error=f"timed out: no answer in {timeout} s")
        return Outcome(ok=False, error=f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS])
    finally:
        watchdog.cancel()
        connection.close()
    if time.monotonic() - started > timeout:
        return Outcome(ok=False, status_code=response.status, error=f"no answer in {timeout} s")
    if 200 <= response.status < 300:
        return Outcome(ok=True, status_code=response.status)
    return Outcome(ok=False, status_code=response.status, error=f"HTTP {response.status}")
