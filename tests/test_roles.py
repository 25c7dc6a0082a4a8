"""Who may call what, with AUTH_MODE=jwt and real tokens (tests/callers.py): each role against
each function, allowed and refused; the scheduled runs; the audit of who wrote; the OpenAPI
document's declarations. What each role may reach inside a function: tests/test_scopes.py.

The functions run as deployed, through functions-framework's apps (werkzeug's test client);
tests/test_auth_http.py goes over a real socket.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from werkzeug.test import Client

from shared import registry
from shared.fleet.history.replies import LedgerReply
from shared.web.openapi import HTTP_METHODS, openapi_document
from tests.callers import Callers, Fleet, call, refused
from tests.test_replies import disagreements

# --- which roles may call which function at all ------------------------------------------------

# Each function with a call that every role allowed to make it may make (the matrix below).
CALLS: dict[str, tuple[str, Any, dict[str, Any]]] = {
    "set_targets": ("POST", "north", {}),
    "get_targets": ("GET", None, {"driver_id": "north0"}),
    "update_progress": ("POST", {"driver_id": "north0", "deliveries": 1}, {}),
    "get_history": ("GET", None, {"driver_id": "north0"}),
    "top_performers": ("GET", None, {"days": 7}),
    "manage_webhooks": ("GET", None, {}),
}
ALLOWED = {
    "set_targets": {"dispatcher", "admin"},
    "get_targets": {"driver", "dispatcher", "admin"},
    "update_progress": {"driver", "dispatcher", "admin"},
    "get_history": {"driver", "dispatcher", "admin"},
    "top_performers": {"driver", "dispatcher", "admin"},
    "manage_webhooks": {"admin"},
    "snapshot_daily": {"admin", "scheduler"},
    "deliver_webhooks": {"admin", "scheduler"},
}
ROLES = ("driver", "dispatcher", "admin", "scheduler")


def headers_of(callers: Callers, role: str, fleet: Fleet) -> dict[str, str]:
    if role == "driver":
        return callers.driver(fleet.north_drivers[0])
    if role == "dispatcher":
        return callers.dispatcher(fleet.north)
    return callers.admin() if role == "admin" else callers.scheduler()


def _resolved(value: Any, fleet: Fleet) -> Any:
    if value == "north0":
        return fleet.north_drivers[0]
    if value == "north":
        return [{"driver_id": fleet.north_drivers[0], "team": fleet.north}]
    if isinstance(value, dict):
        return {key: _resolved(item, fleet) for key, item in value.items()}
    return value


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("function", sorted(CALLS))
def test_each_role_calls_what_its_role_allows(
    client: Client, callers: Callers, fleet: Fleet, function: str, role: str
) -> None:
    method, body, query = CALLS[function]
    response = call(
        client,
        method,
        function,
        headers_of(callers, role, fleet),
        _resolved(body, fleet),
        **_resolved(query, fleet),
    )
    if role in ALLOWED[function]:
        assert response.status_code in (200, 201), response.get_json()
    else:
        message = refused(response)["message"]
        assert message.startswith(f"a {role} may not call {function}: it is for "), message


@pytest.mark.parametrize("role", ["driver", "dispatcher"])
@pytest.mark.parametrize("function", ["snapshot_daily", "deliver_webhooks"])
def test_only_the_scheduler_and_admins_start_the_scheduled_runs(
    client: Client, callers: Callers, fleet: Fleet, function: str, role: str
) -> None:
    # Refused before the handler runs: the shared database is never closed or delivered from.
    response = call(client, "POST", function, headers_of(callers, role, fleet))
    assert "is for admins and schedulers" in refused(response)["message"]


# --- audit: who made each write -----------------------------------------------------------------


def test_target_changes_and_ledgered_events_record_who_made_them(
    client: Client, callers: Callers, fleet: Fleet
) -> None:
    driver = fleet.north_drivers[0]
    dispatcher = callers.dispatcher(fleet.north, sub="disp-7")
    body = [{"driver_id": driver, "target_deliveries": 12}]
    assert call(client, "POST", "set_targets", dispatcher, body).status_code == 200
    own, correction = f"e-{uuid.uuid4().hex}", f"e-{uuid.uuid4().hex}"
    events = (
        (callers.driver(driver, sub="drv-uid-3"), {"deliveries": 2, "event_id": own}),
        (dispatcher, {"deliveries": -1, "event_id": correction}),
    )
    for headers, event in events:
        sent = call(client, "POST", "update_progress", headers, {"driver_id": driver, **event})
        assert sent.status_code == 200, sent.get_json()
    response = call(client, "GET", "get_history", dispatcher, driver_id=driver, ledger="true")
    ledger = response.get_json()
    assert disagreements(LedgerReply, ledger) == []
    assert ledger["targets_set_by"] == callers.principal("disp-7")
    assert [(e["event_id"], e["deliveries"], e["recorded_by"]) for e in ledger["events"]] == [
        (correction, -1, callers.principal("disp-7")),
        (own, 2, callers.principal("drv-uid-3")),
    ]
    admin = call(client, "GET", "get_history", callers.admin(), driver_id=driver, ledger="true")
    assert admin.get_json() == ledger
    # Not the driver's to read, nor another team's dispatcher's.
    for headers in (callers.driver(driver), callers.dispatcher(fleet.south)):
        refused(call(client, "GET", "get_history", headers, driver_id=driver, ledger="true"))


def test_the_scheduler_and_admins_close_days_and_deliver(
    client: Client, callers: Callers, fresh_engine: Engine
) -> None:
    # A database of its own: closing days here closes them for no other test.
    today = dt.datetime.now(dt.UTC).date()
    for headers, days_back in ((callers.scheduler(), 2), (callers.admin(), 1)):
        day = str(today - dt.timedelta(days=days_back))
        response = call(client, "POST", "snapshot_daily", headers, {"date": day})
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["date"] == day
        delivered = call(client, "POST", "deliver_webhooks", headers)
        assert delivered.status_code == 200, delivered.get_json()


def test_the_openapi_document_declares_who_may_call_each_operation() -> None:
    document = openapi_document()
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert document["security"] == [{"bearer": []}]
    for path, item in document["paths"].items():
        entry = registry.function(path.lstrip("/").split("/")[0])
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            if entry.roles is None:
                assert operation["security"] == [], path
                continue
            assert operation["x-fleet-roles"] == list(entry.roles), path
            assert {"401", "403"} <= set(operation["responses"]), path
    challenge = document["components"]["responses"]["Unauthenticated"]["headers"]
    assert "WWW-Authenticate" in challenge
