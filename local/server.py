"""The local server: gunicorn's threaded workers, as functions-framework runs them, and the
background webhook deliverer that stands in for Cloud Scheduler."""

from __future__ import annotations

import logging
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


def serve(
    app: Any,
    *,
    host: str,
    port: int,
    workers: int,
    threads: int,
    in_worker: Callable[[], object] | None = None,
) -> None:
    """Serves until SIGINT/SIGTERM with gunicorn's threaded workers, as functions-framework does.

    functions-framework runs one worker process per instance and Cloud Functions adds instances;
    on one machine, a worker process per core does the same (one process's threads share a
    single core's worth of Python). `in_worker` runs in each worker process once it is up (after
    the fork, so anything it starts shares that worker's engine, not a copy of the master's)."""
    from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]

    class _Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in {
                "bind": f"{host}:{port}",
                "workers": workers,
                "worker_class": "gthread",
                "threads": threads,
                "timeout": 0,
                "keepalive": 30,
                "accesslog": None,
                "loglevel": "warning",
                "post_worker_init": lambda _worker: in_worker and in_worker(),
            }.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return app

    _Server().run()
