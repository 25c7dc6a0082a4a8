"""Who may reach the functions in the cloud: one API Gateway in front of the user-facing ones.

End users (driver apps, dispatchers) call the gateway with a Firebase / Identity Platform ID
token. The gateway checks it, then calls the private function with an ID token of its own
account (`fleet-gateway@...`, the only invoker of the user-facing functions) and passes the
caller's header on in X-Forwarded-Authorization, which the function verifies again itself.
snapshot_daily and deliver_webhooks are not behind it: only the scheduler's account calls them.

Two halves, for the two images a deploy runs in:
- `python deploy/gateway.py --project P --region R --out FILE` writes the gateway's API config
  from our OpenAPI document. The document is built by shared.web.openapi (PyYAML, pydantic),
  so this runs where the project is installed: Cloud Build's `gateway-config` step, or
  deploy.py's own step when deploying from a checkout. The conversion itself (api_config) and
  everything below it are standard library only.
- gateway_steps() and auth_env(): what deploy.py, in the gcloud image, plans.

The config is OpenAPI 2.0. API Gateway also takes 3.x documents now, with another layout of
Google's extensions (a root x-google-api-management naming the backends, x-google-auth), but
the gateway needs only routes, backends and the token check: it validates no bodies, so
nothing of our schemas would be used, and 2.0 is the form whose extensions are documented in
full (cloud.google.com/api-gateway/docs/oasv2-extensions).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# The registry is standard library only; run as a script, deploy/ is on the path, not ROOT.
sys.path.insert(0, str(ROOT))

# steps.py is beside this file: on the path as the script's directory, or put there by deploy.py.
from steps import Step  # noqa: E402

from shared.registry import FUNCTIONS, Function, function  # noqa: E402

API_ID = "fleet"
GATEWAY_ID = "fleet"
SECURITY = "firebase"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch")
# Identity Platform / Firebase signs ID tokens with these keys (a JWKS, RFC 7517); the
# functions' AUTH_JWKS_URL and the gateway's x-google-jwks_uri are the same document.
FIREBASE_JWKS_URL = (
    "https://www.googleapis.com/service_accounts/v1/jwk/securetoken@system.gserviceaccount.com"
)


def firebase_issuer(project: str) -> str:
    return f"https://securetoken.google.com/{project}"


def functions_origin(project: str, region: str) -> str:
    """Where gen2 functions answer as https://REGION-PROJECT.cloudfunctions.net/NAME/..."""
    return f"https://{region}-{project}.cloudfunctions.net"


def _function_of(path: str) -> Function:
    # A function's paths are /<name> and what is below it (the console's files).
    return function(path.lstrip("/").split("/")[0])


def _resolved(document: Mapping[str, Any], item: Mapping[str, Any]) -> Mapping[str, Any]:
    reference = item.get("$ref")
    if reference is None:
        return item
    found: Any = document
    for part in reference.removeprefix("#/").split("/"):
        found = found[part]
    resolved: Mapping[str, Any] = found
    return resolved


def _path_parameters(
    document: Mapping[str, Any], *lists: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Only the path's own parameters: 2.0 needs every {name} of a template declared. Query
    parameters and bodies are the function's to check; a second copy here could only drift."""
    declared = {}
    for parameters in lists:
        for parameter in parameters:
            resolved = _resolved(document, parameter)
            if resolved["in"] == "path":
                declared[resolved["name"]] = {
                    "name": resolved["name"],
                    "in": "path",
                    "required": True,
                    "type": "string",
                }
    return list(declared.values())


def _requires_token(document: Mapping[str, Any], operation: Mapping[str, Any]) -> bool:
    """Whether the document asks for a token here. Open only where it says so (`security: []`
    or an empty alternative, such as the console's page a browser opens): a document that
    declares nothing gets the token check everywhere."""
    requirements = operation.get("security", document.get("security"))
    return requirements is None or (bool(requirements) and all(requirements))


def api_config(document: Mapping[str, Any], *, project: str, region: str) -> dict[str, Any]:
    """The gateway's API config for our OpenAPI document: each user-facing function's paths,
    each operation routed to its function with the function's URL as the audience of the
    gateway's own token, and Identity Platform's ID tokens checked unless the document says
    the operation is open."""
    origin = functions_origin(project, region)
    paths: dict[str, Any] = {}
    for path, item in document["paths"].items():
        target = _function_of(path)
        if not target.user_facing:
            continue
        operations = {}
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            converted: dict[str, Any] = {
                "operationId": operation["operationId"],
                "responses": {"default": {"description": "the function's reply"}},
                "x-google-backend": {
                    # The whole request path appended to the origin reaches the function and
                    # the paths below it alike (/console/<version>/<file>); a constant address
                    # would turn those path parameters into query parameters.
                    "address": origin,
                    "path_translation": "APPEND_PATH_TO_ADDRESS",
                    # Cloud Run checks the gateway's token against the function's own URL.
                    "jwt_audience": f"{origin}/{target.name}",
                    # The gateway's default is 15 s; a request may take the function's timeout.
                    "deadline": float(target.timeout_s),
                },
                "security": [{SECURITY: []}] if _requires_token(document, operation) else [],
            }
            parameters = _path_parameters(
                document, item.get("parameters", []), operation.get("parameters", [])
            )
            if parameters:
                converted["parameters"] = parameters
            operations[method] = converted
        paths[path] = operations
    return {
        "swagger": "2.0",
        "info": {
            "title": document["info"]["title"],
            "version": document["info"]["version"],
            "description": "Generated by deploy/gateway.py from shared/web/openapi.yaml.",
        },
        "schemes": ["https"],
        "produces": ["application/json"],
        "securityDefinitions": {
            SECURITY: {
                "authorizationUrl": "",
                "flow": "implicit",
                "type": "oauth2",
                "x-google-issuer": firebase_issuer(project),
                "x-google-jwks_uri": FIREBASE_JWKS_URL,
                "x-google-audiences": project,
            }
        },
        "paths": paths,
    }


def auth_env(project: str, region: str, target: Function, scheduler_sa: str) -> dict[str, str]:
    """Each function's AUTH_* settings: end users' tokens from Identity Platform always (jwt is
    the only mode a deploy sets); service accounts only where the scheduler calls, since no
    other account can reach a function (the gateway's token is Cloud Run's to check, and the
    user's token it forwards is an end user's)."""
    env = {
        "AUTH_MODE": "jwt",
        "AUTH_ISSUER": firebase_issuer(project),
        "AUTH_AUDIENCE": project,
        "AUTH_JWKS_URL": FIREBASE_JWKS_URL,
    }
    if target.schedule is not None:
        env["AUTH_SERVICE_ACCOUNTS"] = f"{scheduler_sa}=scheduler"
        # The audience the scheduler's OIDC token is minted for (--oidc-token-audience).
        env["AUTH_GOOGLE_AUDIENCE"] = f"{functions_origin(project, region)}/{target.name}"
    return env


def config_step(args: argparse.Namespace, out: Path) -> Step:
    return Step(
        [
            args.python,
            "deploy/gateway.py",
            f"--project={args.project}",
            f"--region={args.region}",
            f"--out={out}",
        ],
        note="the gateway's API config from the OpenAPI document (needs our packages; Cloud "
        "Build writes it in its gateway-config step and passes --gateway-config)",
    )


def gateway_steps(args: argparse.Namespace, config: Path) -> list[Step]:
    """The gateway's account becomes an invoker of each user-facing function, then the API
    (once), a new API config (configs are immutable: one per deploy) and the gateway on it."""
    project = f"--project={args.project}"
    location = f"--location={args.gateway_region}"
    steps = [
        Step(
            [
                "gcloud",
                "functions",
                "add-invoker-policy-binding",
                target.name,
                f"--member=serviceAccount:{args.gateway_sa}",
                project,
                f"--region={args.region}",
            ],
            note=f"roles/run.invoker on {target.name} for the gateway's account only",
        )
        for target in FUNCTIONS
        if target.user_facing
    ]
    on_config = [f"--api={API_ID}", f"--api-config={args.gateway_config_id}", location, project]
    steps += [
        Step(["gcloud", "api-gateway", "apis", "describe", API_ID, project], probe=True),
        Step(
            ["gcloud", "api-gateway", "apis", "create", API_ID, project],
            note="the API, created when describe finds none",
            when_found=False,
        ),
        Step(
            [
                "gcloud",
                "api-gateway",
                "api-configs",
                "create",
                args.gateway_config_id,
                f"--api={API_ID}",
                f"--openapi-spec={config}",
                f"--backend-auth-service-account={args.gateway_sa}",
                project,
            ],
            note="a new config: the gateway calls the functions as its own account",
        ),
        Step(
            ["gcloud", "api-gateway", "gateways", "describe", GATEWAY_ID, location, project],
            probe=True,
        ),
        Step(
            ["gcloud", "api-gateway", "gateways", "create", GATEWAY_ID, *on_config],
            note="create the gateway when describe finds none, else move it to the new config",
            when_found=False,
        ),
        Step(
            ["gcloud", "api-gateway", "gateways", "update", GATEWAY_ID, *on_config], when_found=True
        ),
        Step(
            [
                "gcloud",
                "api-gateway",
                "gateways",
                "describe",
                GATEWAY_ID,
                location,
                project,
                "--format=value(defaultHostname)",
            ],
            note="the host users call: https://<this host>/<function_name>",
        ),
    ]
    return steps


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the API Gateway config (OpenAPI 2.0).")
    parser.add_argument("--project", required=True)
    parser.add_argument("--region", required=True, help="the functions' region")
    parser.add_argument("--out", type=Path, required=True, help="the JSON file to write")
    args = parser.parse_args(argv)
    # Here only: the document needs PyYAML and pydantic, which the gcloud image lacks.
    from shared.web.openapi import openapi_document

    config = api_config(openapi_document(), project=args.project, region=args.region)
    args.out.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
