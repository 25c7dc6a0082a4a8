"""Logs as Cloud Logging reads them, from the real server's stdout: one JSON object per line with
severity, message, the function, the latency and the trace; no password or connection string.

The server connects as a role of its own whose password is in DATABASE_URL, so a leak of the
URL or the password anywhere in the output fails the test.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import make_url

from tests.helpers import admin, new_driver_id
from tests.served import Server, serving

pytestmark = pytest.mark.slow

PROJECT = "fleet-log-test"
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.fixture(scope="module")
def secret_url(server_url: str) -> Iterator[tuple[str, str]]:
    """(DATABASE_URL, password) for a password-protected role owning a database of its own."""
    role = f"fleet_logs_{uuid.uuid4().hex[:8]}"
    password = f"S3cret-{uuid.uuid4().hex}"
    # Names are generated above; the password goes through format('%L'), quoted by the server.
    (create_role,) = admin(
        server_url,
        "SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', CAST(%s AS text), CAST(%s AS text))",
        (role, password),
    )
    admin(server_url, create_role)
    admin(server_url, f"CREATE DATABASE {role} OWNER {role}")
    url = make_url(server_url).set(username=role, password=password, database=role)
    yield url.render_as_string(hide_password=False), password
    admin(server_url, f"DROP DATABASE IF EXISTS {role} WITH (FORCE)")
    admin(server_url, f"DROP ROLE IF EXISTS {role}")


@pytest.fixture(scope="module")
def server(secret_url: tuple[str, str]) -> Iterator[Server]:
    url, _ = secret_url
    with serving(url, GOOGLE_CLOUD_PROJECT=PROJECT) as running:
        yield running


def test_each_request_is_one_json_line_with_trace_function_and_latency(server: Server) -> None:
    driver_id = new_driver_id()
    header = {"X-Cloud-Trace-Context": f"{TRACE}/1;o=1"}
    status, _ = server.call("POST", "/set_targets", [{"driver_id": driver_id}], headers=header)
    assert status == 200

    (line,) = server.wait_for_lines(
        lambda entry: (
            entry.get("logging.googleapis.com/trace") == f"projects/{PROJECT}/traces/{TRACE}"
        )
    )
    assert line["function"] == "set_targets"
    assert line["severity"] == "INFO"
    assert line["message"] == "POST /set_targets/ -> 200"
    assert line["status"] == 200
    assert isinstance(line["latency_ms"], int | float) and line["latency_ms"] >= 0


def test_failures_are_logged_with_their_code_and_no_trace_without_the_header(
    server: Server,
) -> None:
    unknown = new_driver_id()
    assert server.call("GET", f"/get_history?driver_id={unknown}")[0] == 404
    (line,) = server.wait_for_lines(
        lambda entry: (
            entry.get("function") == "get_history" and entry.get("error_code") == "driver_not_found"
        )
    )
    assert line["severity"] == "INFO"
    assert line["status"] == 404
    assert "logging.googleapis.com/trace" not in line


def test_a_forged_trace_header_does_not_reach_the_log(server: Server) -> None:
    start = len(server.stdout.lines)
    forged = 'not-hex"}, {"severity": "ERROR'
    headers = {"X-Cloud-Trace-Context": forged}
    assert server.call("GET", "/get_targets?limit=1", headers=headers)[0] == 200
    (line,) = server.wait_for_lines(lambda entry: "function" in entry, start=start)
    assert line["function"] == "get_targets"
    assert "logging.googleapis.com/trace" not in line


def test_every_line_is_json_and_none_holds_the_password_or_the_url(
    server: Server, secret_url: tuple[str, str]
) -> None:
    url, password = secret_url
    # Something of everything: a success, a 400, a 404, a 405, a 413 and a malformed body.
    server.call("GET", "/get_targets?limit=1")
    server.call("GET", "/get_targets?limit=0")
    server.call("GET", "/get_targets?driver_id=nobody-here")
    server.call("DELETE", "/get_targets")
    server.call("POST", "/update_progress", raw=b"{" * 10)
    entries = server.json_lines()
    assert entries and all(isinstance(entry, dict) for entry in entries)
    for entry in entries:
        assert {"severity", "message", "time"} <= set(entry), entry
    everything = "\n".join(server.stdout.lines + server.stderr.lines)
    assert password not in everything
    assert url not in everything
    assert "postgresql://" not in everything
