"""Every function on one port: each function's own functions-framework app (built from main.py
exactly as Cloud Functions builds it) mounted at /<function_name> by a WSGI dispatcher."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import flask

from shared import registry
from shared.web.openapi import openapi_document

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MAIN_SOURCE = PROJECT_ROOT / "main.py"
OPENAPI_PATH = "/openapi.json"


def _not_found(environ: dict[str, Any], start_response: Any) -> Any:
    body = flask.json.dumps(
        {
            "error": {
                "code": "no_such_function",
                "message": f"no function here; try one of /{', /'.join(registry.NAMES)}",
                "field": None,
            }
        }
    ).encode()
    start_response("404 Not Found", [("Content-Type", "application/json")])
    return [body]


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
            for name in registry.NAMES
        }
    )
