"""The cloud's front door: the API Gateway config generated from our OpenAPI document, the
deploy plan's gateway steps and invoker bindings, and the AUTH_* settings each function gets
(read back through the service's own settings class, so a plan the functions would refuse at
start-up fails here)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from shared import registry
from shared.auth.settings import AuthSettings
from shared.web.openapi import openapi_document
from tests.helpers import PROJECT_ROOT, deploy_plan

sys.path.insert(0, str(PROJECT_ROOT / "deploy"))
import gateway

PROJECT, REGION = "acme-fleet", "europe-west1"
BASE = ["--project", PROJECT, "--region", REGION, "--instance", f"{PROJECT}:{REGION}:fleet-db"]
ORIGIN = f"https://{REGION}-{PROJECT}.cloudfunctions.net"
GATEWAY_SA = f"fleet-gateway@{PROJECT}.iam.gserviceaccount.com"
SCHEDULER_SA = f"fleet-scheduler@{PROJECT}.iam.gserviceaccount.com"
USER_FACING = {f.name for f in registry.FUNCTIONS if f.user_facing}
SCHEDULED = {f.name for f in registry.FUNCTIONS if f.schedule is not None}


def dry_run(*extra: str) -> list[list[str]]:
    return deploy_plan(*BASE, *extra)


def flag(command: list[str], name: str) -> str:
    return next(arg.split("=", 1)[1] for arg in command if arg.startswith(f"{name}="))


def env_vars(command: list[str]) -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in flag(command, "--set-env-vars").split(","))


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return gateway.api_config(openapi_document(), project=PROJECT, region=REGION)


def test_the_user_facing_functions_are_all_but_the_scheduled_ones() -> None:
    assert set(registry.NAMES) - {"snapshot_daily", "deliver_webhooks"} == USER_FACING
    assert not USER_FACING & SCHEDULED


def test_the_config_routes_every_user_facing_operation_and_no_other(
    config: dict[str, Any],
) -> None:
    assert config["swagger"] == "2.0"
    documented = {
        (path, method)
        for path, item in openapi_document()["paths"].items()
        for method in item
        if method in gateway.HTTP_METHODS and path.lstrip("/").split("/")[0] in USER_FACING
    }
    routed = {(path, method) for path, item in config["paths"].items() for method in item}
    assert routed == documented
    assert {path.lstrip("/").split("/")[0] for path in config["paths"]} == USER_FACING
    operation_ids = [op["operationId"] for item in config["paths"].values() for op in item.values()]
    assert len(operation_ids) == len(set(operation_ids))


def test_each_operation_reaches_its_function_as_the_gateway_with_the_functions_url(
    config: dict[str, Any],
) -> None:
    for path, item in config["paths"].items():
        name = path.lstrip("/").split("/")[0]
        for operation in item.values():
            backend = operation["x-google-backend"]
            # What the function is called at: its URL, and the paths below it (console files).
            called = backend["address"] + path
            assert called == f"{ORIGIN}/{name}" or called.startswith(f"{ORIGIN}/{name}/")
            assert backend["path_translation"] == "APPEND_PATH_TO_ADDRESS"
            assert backend["jwt_audience"] == f"{ORIGIN}/{name}"
            assert backend["deadline"] == registry.function(name).timeout_s


def test_identity_platform_tokens_are_checked_for_the_project(config: dict[str, Any]) -> None:
    assert config["securityDefinitions"] == {
        "firebase": {
            "authorizationUrl": "",
            "flow": "implicit",
            "type": "oauth2",
            "x-google-issuer": f"https://securetoken.google.com/{PROJECT}",
            "x-google-jwks_uri": gateway.FIREBASE_JWKS_URL,
            "x-google-audiences": PROJECT,
        }
    }
    api = config["paths"]["/update_progress"]["post"]
    assert api["security"] == [{"firebase": []}]


def test_templated_paths_declare_their_parameters_and_nothing_else(
    config: dict[str, Any],
) -> None:
    for path, item in config["paths"].items():
        names = re.findall(r"{(\w+)}", path)
        for operation in item.values():
            declared = [p["name"] for p in operation.get("parameters", [])]
            assert declared == names, path
            assert all(p["in"] == "path" and p["required"] for p in operation.get("parameters", []))


def _document(security: Any = None, operation_security: Any = None) -> dict[str, Any]:
    operation: dict[str, Any] = {"operationId": "get_targets"}
    if operation_security is not None:
        operation["security"] = operation_security
    document: dict[str, Any] = {
        "info": {"title": "t", "version": "1"},
        "paths": {"/get_targets": {"get": operation, "summary": "not an operation"}},
    }
    if security is not None:
        document["security"] = security
    return document


@pytest.mark.parametrize(
    ("security", "operation_security", "checked"),
    [
        (None, None, True),  # the document says nothing: checked everywhere
        ([{"bearer": []}], None, True),
        ([{"bearer": []}], [], False),  # an operation the document opens (a page)
        ([{"bearer": []}], [{"bearer": []}, {}], False),  # a token is optional there
        ([], [{"bearer": []}], True),
    ],
)
def test_an_operation_is_open_at_the_gateway_only_where_the_document_opens_it(
    security: Any, operation_security: Any, checked: bool
) -> None:
    document = _document(security, operation_security)
    converted = gateway.api_config(document, project=PROJECT, region=REGION)
    operation = converted["paths"]["/get_targets"]["get"]
    assert operation["security"] == ([{"firebase": []}] if checked else [])
    assert list(converted["paths"]["/get_targets"]) == ["get"]


def test_the_converter_writes_the_config_where_the_project_is_installed(
    tmp_path: Path, config: dict[str, Any]
) -> None:
    out = tmp_path / "gateway.json"
    done = subprocess.run(
        [
            sys.executable,
            str(PROJECT_ROOT / "deploy" / "gateway.py"),
            f"--project={PROJECT}",
            f"--region={REGION}",
            f"--out={out}",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text()) == config


def test_the_gateway_is_the_only_invoker_of_the_user_facing_functions() -> None:
    plan = dry_run()
    bindings = [c for c in plan if c[:3] == ["gcloud", "functions", "add-invoker-policy-binding"]]
    members: dict[str, set[str]] = {}
    for command in bindings:
        members.setdefault(command[3], set()).add(flag(command, "--member"))
    assert members == {
        **{name: {f"serviceAccount:{GATEWAY_SA}"} for name in USER_FACING},
        **{name: {f"serviceAccount:{SCHEDULER_SA}"} for name in SCHEDULED},
    }


def test_the_plan_writes_the_config_first_then_creates_api_config_and_gateway() -> None:
    plan = dry_run()
    writes = next(i for i, c in enumerate(plan) if "deploy/gateway.py" in c)
    first_deploy = next(i for i, c in enumerate(plan) if c[:3] == ["gcloud", "functions", "deploy"])
    migrate = next(i for i, c in enumerate(plan) if c[-2:] == ["ops.cli", "migrate"])
    assert migrate < writes < first_deploy
    out = flag(plan[writes], "--out")
    assert flag(plan[writes], "--project") == PROJECT and flag(plan[writes], "--region") == REGION

    gateway_commands = [c for c in plan if c[:2] == ["gcloud", "api-gateway"]]
    verbs = [tuple(c[2:4]) for c in gateway_commands]
    assert verbs == [
        ("apis", "describe"),
        ("apis", "create"),
        ("api-configs", "create"),
        ("gateways", "describe"),
        ("gateways", "create"),
        ("gateways", "update"),
        ("gateways", "describe"),
    ]
    create_config = gateway_commands[2]
    config_id = create_config[4]
    assert re.fullmatch(r"fleet-\d{8}-\d{6}", config_id)
    assert flag(create_config, "--openapi-spec") == out
    assert flag(create_config, "--backend-auth-service-account") == GATEWAY_SA
    for command in gateway_commands[4:6]:
        assert flag(command, "--api-config") == config_id and flag(command, "--api") == "fleet"
        assert flag(command, "--location") == REGION
    assert flag(gateway_commands[-1], "--format") == "value(defaultHostname)"
    # Functions exist before the gateway's account is bound to them.
    last_deploy = max(i for i, c in enumerate(plan) if c[:3] == ["gcloud", "functions", "deploy"])
    assert last_deploy < plan.index(create_config)


def test_a_config_written_already_is_used_as_it_is() -> None:
    plan = dry_run("--gateway-config", "gateway.json", "--gateway-region", "europe-west2")
    assert not any("deploy/gateway.py" in c for c in plan)
    create_config = next(c for c in plan if c[2:4] == ["api-configs", "create"])
    assert flag(create_config, "--openapi-spec") == "gateway.json"
    assert {flag(c, "--location") for c in plan if c[2:3] == ["gateways"]} == {"europe-west2"}


def test_a_missing_config_file_stops_a_real_deploy(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(PROJECT_ROOT / "deploy" / "deploy.py"),
            *BASE,
            "--skip-migrate",
            "--gateway-config",
            str(tmp_path / "absent.json"),
        ],
        capture_output=True,
        text=True,
        env={"PATH": "/nonexistent"},
        check=False,
    )
    assert done.returncode == 2 and "no such file" in done.stderr


def test_every_function_verifies_tokens_and_only_the_scheduled_accept_the_scheduler() -> None:
    plan = dry_run()
    deploys = {c[3]: c for c in plan if c[:3] == ["gcloud", "functions", "deploy"]}
    audiences = {
        c[5]: flag(c, "--oidc-token-audience")
        for c in plan
        if c[:5] == ["gcloud", "scheduler", "jobs", "create", "http"]
    }
    for name, command in deploys.items():
        env = env_vars(command)
        auth = {k: v for k, v in env.items() if k.startswith("AUTH_")}
        settings = AuthSettings(**{k.removeprefix("AUTH_").lower(): v for k, v in auth.items()})
        assert settings.mode == "jwt"
        assert settings.issuer == f"https://securetoken.google.com/{PROJECT}"
        assert settings.audience == PROJECT
        assert settings.jwks_url == gateway.FIREBASE_JWKS_URL
        function = registry.function(name)
        if function.schedule is None:
            assert settings.service_accounts == {}
        else:
            assert settings.service_accounts == {SCHEDULER_SA: "scheduler"}
            assert settings.google_audience == (audiences[function.schedule.job],)
    modes = {env_vars(c)["AUTH_MODE"] for c in deploys.values()}
    rollback = dry_run("--rollback")
    modes |= {
        env_vars(c)["AUTH_MODE"] for c in rollback if c[:3] == ["gcloud", "functions", "deploy"]
    }
    assert modes == {"jwt"}


def test_cloud_build_writes_the_config_with_our_packages_and_the_deploy_reads_it() -> None:
    import yaml

    build = yaml.safe_load((PROJECT_ROOT / "cloudbuild.yaml").read_text())
    steps = {step["id"]: step for step in build["steps"]}
    writer, deploy = steps["gateway-config"], steps["deploy"]
    # The python image with the venv the lint and test steps installed; gcloud's image has none.
    assert writer["name"].startswith("python:3.12") and writer["entrypoint"] == ".venv/bin/python"
    assert writer["args"][0] == "deploy/gateway.py"
    assert flag(deploy["args"], "--gateway-config") == flag(writer["args"], "--out")
    for name in ("--project", "--region"):
        assert flag(writer["args"], name) == flag(deploy["args"], name)
    # Before the database or any function changes: a document that does not convert stops it.
    order = list(steps)
    assert order.index("gateway-config") < order.index("migrate") < order.index("deploy")
