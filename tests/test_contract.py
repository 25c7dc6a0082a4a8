"""The OpenAPI document is the contract: it lists every deployed function, and generated requests
(valid and invalid) never get a server error or a reply the document does not describe.

schemathesis drives the served WSGI app (the same dispatcher `make run` serves) on a database of
the test's own, so generated snapshots never close a day under other tests.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from local.dispatcher import OPENAPI_PATH
from shared.registry import NAMES as FUNCTION_NAMES
from shared.web.openapi import openapi_document
from tests.helpers import post

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Bounded: a few dozen requests per function and mode keep the whole file to seconds.
EXAMPLES_PER_MODE = 25
# A driver whose id the document uses as its example, so generated reads also find data.
EXAMPLE_DRIVER = "TEST_001"


def test_document_lists_exactly_the_deployed_functions() -> None:
    paths = openapi_document()["paths"]
    # One path per function, /<name>, and paths below it for what it serves (console assets).
    assert {path.lstrip("/").split("/")[0] for path in paths} == set(FUNCTION_NAMES)
    assert all(f"/{name}" in paths for name in FUNCTION_NAMES)
    for name in FUNCTION_NAMES:
        operation_ids = [op["operationId"] for op in paths[f"/{name}"].values()]
        assert name in operation_ids, f"/{name} has no operation named {name}"


def test_document_is_served_locally(client: Any) -> None:
    response = client.get(OPENAPI_PATH)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == openapi_document()


def test_every_error_status_uses_the_error_shape() -> None:
    document = openapi_document()
    error_ref = "#/components/schemas/Error"
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if int(status) < 400:
                    continue
                if "$ref" in response:
                    name = response["$ref"].rsplit("/", 1)[-1]
                    response = document["components"]["responses"][name]
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": error_ref}, f"{method} {path} {status}"


@pytest.fixture
def contract_schema(fresh_engine: Any, app: Any) -> Any:
    """The served document, loaded from the app itself, with data for the readers to find."""
    from werkzeug.test import Client

    client = Client(app)
    assert post(client, "set_targets", [{"driver_id": EXAMPLE_DRIVER}]).status_code == 200
    event = {"driver_id": EXAMPLE_DRIVER, "deliveries": 3, "revenue": "12.50"}
    assert post(client, "update_progress", event).status_code == 200
    # A closed day, so history and the boards answer with rows to check against the document.
    closed = post(
        client,
        "snapshot_daily",
        {"date": dt.datetime.now(dt.UTC).date().isoformat(), "reset": False},
    )
    assert closed.status_code == 200, closed.get_json()
    return schemathesis.openapi.from_wsgi(OPENAPI_PATH, app)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("function", FUNCTION_NAMES)
def test_generated_requests_get_documented_replies(
    contract_schema: Any, function: str, mode: GenerationMode
) -> None:
    operations = [
        result.ok()
        for result in contract_schema.get_all_operations()
        if result.ok().path.split("/")[1] == function
    ]
    assert operations, f"/{function} is not in the OpenAPI document"
    for operation in operations:
        strategies = [operation.as_strategy(generation_mode=mode)]
        if mode is GenerationMode.POSITIVE:
            # The document's examples name the driver the fixture filled with data.
            strategies += operation.get_strategies_from_examples()
        for strategy in strategies:
            try:
                _exchange(strategy)
            except Unsatisfiable:
                # No input to break (no parameters, no body): the positive run covers it.
                assert mode is GenerationMode.NEGATIVE


def _exchange(strategy: Any) -> None:
    @settings(
        max_examples=EXAMPLES_PER_MODE,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def exchange(case: Any) -> None:
        case.call_and_validate(checks=CHECKS)

    exchange()
