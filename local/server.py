"""The local server: gunicorn's threaded workers, as functions-framework runs them, and the
background webhook deliverer that stands in for Cloud Scheduler."""

from __future__ import annotations

import errno
import logging
import socket
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


def deliver_webhooks_in_background(interval: float) -> threading.Thread:
    """What Cloud Scheduler does in the cloud: the same delivery run every `interval` seconds."""
    from shared.db.instance import get_engine
    from shared.errors import FleetError
    from shared.settings import get_settings
    from shared.webhooks import delivery

    def loop() -> None:
        while True:
            try:
                delivery.deliver_due(get_engine(), get_settings())
            except FleetError as exc:
                log.warning("webhook delivery run failed: %s", exc.message)
            except Exception:
                log.exception("webhook delivery run failed")
            threading.Event().wait(interval)

    thread = threading.Thread(target=loop, name="deliver-webhooks", daemon=True)
    thread.start()
    return thread


# How long a stop (Ctrl-C, SIGTERM) waits for requests in flight before the workers are killed.
STOP_GRACE_SECONDS = 5


class PortInUse(Exception):
    pass


def listen(host: str, port: int) -> socket.socket:
    """The server's listening socket, bound before anything else starts: a port in use is
    reported at once, where gunicorn binding it itself retried for 5 s after the stack had
    already said it was serving. Raises PortInUse."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise PortInUse(
                f"{host}:{port} is in use: stop what serves there, or set PORT"
            ) from exc
        raise


def serve(
    app: Any,
    *,
    listener: socket.socket,
    workers: int,
    threads: int,
    in_worker: Callable[[], object] | None = None,
) -> None:
    """Serves on `listener` until SIGINT/SIGTERM with gunicorn's threaded workers, as
    functions-framework does (see local/worker.py for what differs).

    functions-framework runs one worker process per instance and Cloud Functions adds instances;
    on one machine, a worker process per core does the same (one process's threads share a
    single core's worth of Python). `in_worker` runs in each worker process once it is up (after
    the fork, so anything it starts shares that worker's engine, not a copy of the master's)."""
    from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]

    from local.worker import LocalWorker

    # gunicorn takes the socket over and closes it when it stops.
    bind = f"fd://{listener.detach()}"

    class _Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in {
                "bind": bind,
                "workers": workers,
                "worker_class": LocalWorker,
                "threads": threads,
                "timeout": 0,
                "graceful_timeout": STOP_GRACE_SECONDS,
                "keepalive": 30,
                "accesslog": None,
                "loglevel": "warning",
                "post_worker_init": lambda _worker: in_worker and in_worker(),
            }.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return app

    _Server().run()
