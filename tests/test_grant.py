"""`fleet grant` against a fake Identity Toolkit API on 127.0.0.1 (the one boundary faked, as
the connector's is): what it sends, what it keeps of the user's claims, what it refuses before
sending anything, and its exit codes. The credentials are a static token: google-auth's own
Credentials class, sent by its own AuthorizedSession."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import google.auth
import pytest
from google.oauth2.credentials import Credentials

from ops import cli
from shared.auth.identity import user_identity
from tests.helpers import PROJECT_ROOT, LoopbackHTTP

PROJECT = "acme-fleet"
TOKEN = "test-access-token"


@dataclass
class FakeToolkit:
    """accounts:lookup and accounts:update of one project, over users kept in memory."""

    users: dict[str, dict[str, Any]]
    requests: list[tuple[str, dict[str, Any], dict[str, str]]] = field(default_factory=list)
    refuse_update: bool = False
    url: str = ""


@pytest.fixture
def toolkit() -> Iterator[FakeToolkit]:
    fake = FakeToolkit(
        users={
            "uid-1": {
                "localId": "uid-1",
                "email": "ana@example.com",
                # Claims of something else in the same project, and a stale fleet role.
                "customAttributes": json.dumps({"plan": "pro", "fleet_role": "admin"}),
            }
        }
    )
    prefix = f"/v1/projects/{PROJECT}/accounts:"

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            headers = {name.lower(): value for name, value in self.headers.items()}
            fake.requests.append((self.path, body, headers))
            if not self.path.startswith(prefix):
                return self._reply(404, {"error": {"message": "NOT_FOUND"}})
            verb = self.path.removeprefix(prefix)
            if verb == "lookup":
                found = [
                    user
                    for user in fake.users.values()
                    if user["localId"] in body.get("localId", [])
                    or user["email"] in body.get("email", [])
                ]
                return self._reply(200, {"users": found} if found else {})
            if verb == "update" and fake.refuse_update:
                return self._reply(403, {"error": {"message": "PERMISSION_DENIED"}})
            if verb == "update":
                fake.users[body["localId"]]["customAttributes"] = body["customAttributes"]
                return self._reply(200, {"localId": body["localId"]})
            return self._reply(400, {"error": {"message": "INVALID_VERB"}})

        def _reply(self, status: int, answer: dict[str, Any]) -> None:
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    served = LoopbackHTTP(Handler)
    fake.url = served.url
    try:
        yield fake
    finally:
        served.close()


@pytest.fixture(autouse=True)
def static_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Application Default Credentials: a user's token, naming no quota project."""
    monkeypatch.setattr(
        google.auth, "default", lambda scopes=None: (Credentials(token=TOKEN), None)
    )


def grant(toolkit: FakeToolkit, *args: str) -> int:
    return cli.main(["grant", f"--project={PROJECT}", f"--api-url={toolkit.url}", *args])


def claims_of(toolkit: FakeToolkit, uid: str = "uid-1") -> dict[str, Any]:
    stored: dict[str, Any] = json.loads(toolkit.users[uid]["customAttributes"])
    return stored


def test_a_dispatcher_gets_their_teams_and_other_claims_are_kept(
    toolkit: FakeToolkit, capsys: pytest.CaptureFixture[str]
) -> None:
    code = grant(
        toolkit,
        "--email",
        "ana@example.com",
        "--role",
        "dispatcher",
        "--team",
        "south",
        "--team",
        "north",
    )
    assert code == 0, capsys.readouterr().err
    (lookup_path, lookup, _), (path, body, headers) = toolkit.requests
    assert lookup_path == f"/v1/projects/{PROJECT}/accounts:lookup"
    assert lookup == {"email": ["ana@example.com"]}
    assert path == f"/v1/projects/{PROJECT}/accounts:update"
    assert body["localId"] == "uid-1" and isinstance(body["customAttributes"], str)
    assert headers["authorization"] == f"Bearer {TOKEN}"
    # User credentials name no project to bill: the target project is named.
    assert headers["x-goog-user-project"] == PROJECT
    assert claims_of(toolkit) == {
        "plan": "pro",
        "fleet_role": "dispatcher",
        "teams": ["north", "south"],
    }
    # What the functions make of a token carrying these claims.
    identity = user_identity({"iss": "i", "sub": "uid-1", **claims_of(toolkit)})
    assert identity.role == "dispatcher" and identity.teams == {"north", "south"}
    assert "dispatcher" in capsys.readouterr().out


def test_a_driver_gets_their_id_and_a_former_role_leaves_nothing_behind(
    toolkit: FakeToolkit,
) -> None:
    assert grant(toolkit, "--uid", "uid-1", "--role", "dispatcher", "--team", "north") == 0
    assert grant(toolkit, "--uid", "uid-1", "--role", "driver", "--driver-id", "DRV-7") == 0
    assert toolkit.requests[-2][1] == {"localId": ["uid-1"]}
    assert claims_of(toolkit) == {"plan": "pro", "fleet_role": "driver", "driver_id": "DRV-7"}
    assert grant(toolkit, "--uid", "uid-1", "--role", "admin") == 0
    assert claims_of(toolkit) == {"plan": "pro", "fleet_role": "admin"}
    assert grant(toolkit, "--uid", "uid-1", "--revoke") == 0
    assert claims_of(toolkit) == {"plan": "pro"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "driver"], "a driver needs --driver-id"),
        (["--role", "driver", "--driver-id", "D", "--team", "t"], "a driver needs --driver-id"),
        (["--role", "driver", "--driver-id", "x" * 65], "driver_id"),
        (["--role", "dispatcher"], "at least one --team"),
        (["--role", "dispatcher", "--team", "t", "--driver-id", "D"], "for drivers only"),
        (["--role", "dispatcher", "--team", "t" * 65], "teams"),
        (
            ["--role", "dispatcher", *(f"--team=team-{i:03d}-{'x' * 50}" for i in range(20))],
            "over Identity Platform's 1000",
        ),
    ],
)
def test_a_grant_the_service_would_refuse_is_refused_before_anything_is_set(
    toolkit: FakeToolkit, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert grant(toolkit, "--uid", "uid-1", *args) == 2
    assert message in capsys.readouterr().err
    assert not [path for path, _, _ in toolkit.requests if path.endswith(":update")]
    assert claims_of(toolkit) == {"plan": "pro", "fleet_role": "admin"}


def test_the_api_refusing_or_an_unknown_user_is_exit_code_1(
    toolkit: FakeToolkit, capsys: pytest.CaptureFixture[str]
) -> None:
    assert grant(toolkit, "--email", "nobody@example.com", "--role", "admin") == 1
    assert "no user nobody@example.com" in capsys.readouterr().err
    toolkit.refuse_update = True
    assert grant(toolkit, "--uid", "uid-1", "--role", "admin") == 1
    assert "403: PERMISSION_DENIED" in capsys.readouterr().err


def test_an_unreachable_api_is_exit_code_1(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    code = cli.main(
        ["grant", f"--project={PROJECT}", f"--api-url={closed}", "--uid", "u", "--role", "admin"]
    )
    assert code == 1 and "accounts:lookup failed" in capsys.readouterr().err


@pytest.mark.slow
def test_the_command_needs_no_database_and_bad_arguments_exit_2(tmp_path: Any) -> None:
    fleet = PROJECT_ROOT / ".venv" / "bin" / "fleet"
    env = {"PATH": "/usr/bin:/bin", "FLEET_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run(
        [str(fleet), "grant", "--project=p", "--uid", "u", "--role", "driver"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 2 and "a driver needs --driver-id" in done.stderr
    # No embedded PostgreSQL was started for it.
    assert not (tmp_path / "data").exists()
    done = subprocess.run(
        [str(fleet), "grant", "--uid", "u"], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 2 and "--role" in done.stderr
