"""Small helpers shared by the tests: JSON calls through the served functions."""

from __future__ import annotations

import json
from typing import Any

from werkzeug.test import Client, TestResponse


def post(client: Client, function: str, body: Any, **kwargs: Any) -> TestResponse:
    return client.post(
        f"/{function}", data=json.dumps(body), content_type="application/json", **kwargs
    )


def get(client: Client, function: str, **params: Any) -> TestResponse:
    return client.get(f"/{function}", query_string=params)


def error_of(response: TestResponse) -> dict[str, Any]:
    body = response.get_json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "field"}, body
    return dict(body["error"])
