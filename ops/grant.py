"""`fleet grant`: give an end user their role, as custom claims on their Identity Platform account.

    fleet grant --email E --role driver --driver-id D
    fleet grant --uid U --role dispatcher --team north --team south
    fleet grant --email E --role admin [--team T ...]      (no --team: every team)
    fleet grant --email E --revoke                         (no role: every call is refused)

The claims are the ones the functions read from a verified token (fleet_role, driver_id, teams;
shared/auth/identity.py), checked here by that same code, so a grant the service would refuse
is refused before anything is sent. The user's other custom claims are kept. A token carries
the new claims from its next refresh (Identity Platform refreshes ID tokens hourly; the app can
force one).

Through the Identity Toolkit API (accounts:lookup, accounts:update) with the caller's Google
credentials (Application Default Credentials: `gcloud auth application-default login`, or the
account something runs as), which need firebaseauth.users.get and .update on the project
(roles/identityplatform.admin, say). No database.
Exit codes: 0 done, 1 the API failed or refused, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from typing import Any

from shared.auth.identity import user_identity
from shared.errors import Unauthenticated

API_URL = "https://identitytoolkit.googleapis.com"
SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
FLEET_CLAIMS = ("fleet_role", "driver_id", "teams")
# Identity Platform refuses custom claims longer than this, serialised: keep team lists short.
CLAIMS_LIMIT = 1000
TIMEOUT_S = 30


class Refused(Exception):
    """The Identity Toolkit API failed or said no."""


class BadGrant(ValueError):
    """The arguments make no role the service would accept."""


def fleet_claims(args: argparse.Namespace) -> dict[str, Any]:
    """The role's claims, or {} for --revoke; BadGrant when the service would refuse them."""
    if args.revoke:
        return {}
    if args.role == "driver":
        if args.driver_id is None or args.teams:
            raise BadGrant("a driver needs --driver-id (their own id) and no --team")
        claims: dict[str, Any] = {"fleet_role": "driver", "driver_id": args.driver_id}
    else:
        if args.driver_id is not None:
            raise BadGrant(f"--driver-id is for drivers only, not a {args.role}")
        if args.role == "dispatcher" and not args.teams:
            raise BadGrant("a dispatcher needs at least one --team (the teams they dispatch)")
        claims = {"fleet_role": args.role}
        if args.teams:
            claims["teams"] = sorted(set(args.teams))
    try:
        # What the functions do with a verified token's claims: the one definition of a role.
        user_identity({"iss": "fleet grant", "sub": "-", **claims})
    except Unauthenticated as exc:
        raise BadGrant(exc.message) from None
    return claims


def merged(existing: Mapping[str, Any], claims: Mapping[str, Any]) -> str:
    """The user's custom claims with ours replaced (a role's stale driver_id or teams gone),
    serialised as accounts:update takes them."""
    kept = {k: v for k, v in existing.items() if k not in FLEET_CLAIMS}
    text = json.dumps({**kept, **claims}, separators=(",", ":"), sort_keys=True)
    if len(text) > CLAIMS_LIMIT:
        raise BadGrant(
            f"the custom claims would be {len(text)} characters, over Identity Platform's"
            f" {CLAIMS_LIMIT}: fewer or shorter --team names"
        )
    return text


class IdentityToolkit:
    """The two calls `fleet grant` makes, over an authorised session (requests-compatible)."""

    def __init__(self, session: Any, project: str, api_url: str = API_URL) -> None:
        self._session = session
        self._accounts = f"{api_url.rstrip('/')}/v1/projects/{project}/accounts"

    def _post(self, verb: str, body: dict[str, Any]) -> dict[str, Any]:
        import requests
        from google.auth.exceptions import GoogleAuthError

        try:
            response = self._session.post(f"{self._accounts}:{verb}", json=body, timeout=TIMEOUT_S)
        except (requests.RequestException, GoogleAuthError) as exc:
            raise Refused(f"accounts:{verb} failed: {exc}") from None
        if response.status_code != 200:
            try:
                message = response.json()["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = response.text[:200]
            raise Refused(f"accounts:{verb} answered {response.status_code}: {message}")
        answer: dict[str, Any] = response.json()
        return answer

    def lookup(self, *, uid: str | None, email: str | None) -> dict[str, Any]:
        body = {"localId": [uid]} if uid is not None else {"email": [email]}
        users = self._post("lookup", body).get("users") or []
        if len(users) != 1:
            raise Refused(f"no user {f'with uid {uid}' if uid is not None else email} here")
        user: dict[str, Any] = users[0]
        return user

    def set_custom_claims(self, uid: str, custom_attributes: str) -> None:
        self._post("update", {"localId": uid, "customAttributes": custom_attributes})


def authorised_session(project: str) -> Any:
    """A session with the caller's Application Default Credentials. User credentials name no
    project to bill the call to, and the Identity Toolkit API wants one: the target project."""
    import google.auth
    from google.auth.credentials import CredentialsWithQuotaProject
    from google.auth.exceptions import DefaultCredentialsError
    from google.auth.transport.requests import AuthorizedSession

    try:
        credentials, _ = google.auth.default(scopes=SCOPES)
    except DefaultCredentialsError as exc:
        raise Refused(
            f"no Google credentials ({exc}): gcloud auth application-default login"
        ) from None
    # google-auth declares no types for these two.
    if isinstance(credentials, CredentialsWithQuotaProject) and not credentials.quota_project_id:
        credentials = credentials.with_quota_project(project)  # type: ignore[no-untyped-call]
    return AuthorizedSession(credentials)  # type: ignore[no-untyped-call]


def run(args: argparse.Namespace) -> int:
    try:
        claims = fleet_claims(args)
        if not args.project:
            raise BadGrant(
                "--project (or GOOGLE_CLOUD_PROJECT) names the Identity Platform project"
            )
        toolkit = IdentityToolkit(authorised_session(args.project), args.project, args.api_url)
        user = toolkit.lookup(uid=args.uid, email=args.email)
        existing = json.loads(user.get("customAttributes") or "{}")
        toolkit.set_custom_claims(user["localId"], merged(existing, claims))
    except BadGrant as exc:
        print(f"fleet grant: {exc}", file=sys.stderr)
        return 2
    except Refused as exc:
        print(f"fleet grant: {exc}", file=sys.stderr)
        return 1
    who = user.get("email") or user["localId"]
    print(f"{who}: {json.dumps(claims) if claims else 'no role'} (from the next token refresh)")
    return 0


def add_command(commands: Any) -> None:
    """`fleet grant` on the CLI's subcommands; it needs no database."""
    grant = commands.add_parser(
        "grant",
        help="give a user a role (Identity Platform custom claims)",
        description=__doc__.split("\n\n")[1],
        epilog="Exit codes: 0 done, 1 the API failed or refused, 2 bad arguments.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    who = grant.add_mutually_exclusive_group(required=True)
    who.add_argument("--uid", help="the user's Identity Platform uid")
    who.add_argument("--email", help="the user's email")
    role = grant.add_mutually_exclusive_group(required=True)
    role.add_argument("--role", choices=("driver", "dispatcher", "admin"))
    role.add_argument("--revoke", action="store_true", help="remove the user's role")
    grant.add_argument("--driver-id", help="a driver's own id (drivers only)")
    grant.add_argument(
        "--team",
        dest="teams",
        metavar="TEAM",
        action="append",
        default=[],
        help="a team the user dispatches (repeatable)",
    )
    grant.add_argument(
        "--project",
        default=os.environ.get("GOOGLE_CLOUD_PROJECT"),
        help="the project (env GOOGLE_CLOUD_PROJECT)",
    )
    grant.add_argument(
        "--api-url",
        default=os.environ.get("IDENTITY_TOOLKIT_URL", API_URL),
        help=f"the Identity Toolkit API (env IDENTITY_TOOLKIT_URL, default {API_URL})",
    )
    grant.set_defaults(run=run, database=False)
