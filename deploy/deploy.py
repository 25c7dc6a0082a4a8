"""Deploys every function to Cloud Functions (gen2), private, then the Cloud Scheduler jobs.

    python deploy/deploy.py --project P --region R --instance P:R:I [--dry-run]

Order, so no new code serves traffic on an old schema:
  1. migrate the target database (`python -m ops.cli migrate` through the Cloud SQL
     connector, as the functions connect). A deploy from a checkout does it here; Cloud Build
     does it in a step of its own (the deploy step's image has gcloud but not our packages) and
     passes --skip-migrate. Each instance still migrates on cold start: the safety net.
  2. stage exactly what Cloud Functions builds: main.py, functions/, shared/, migrations/ and a
     requirements.txt with the runtime dependencies only (the Python buildpack installs it).
  3. `gcloud functions deploy` each function: --gen2, --no-allow-unauthenticated, the runtime
     service account, env vars, the password from Secret Manager (--set-secrets).
  4. the scheduler's account gets roles/run.invoker on the scheduled functions only, and each
     Cloud Scheduler job is created, or updated when `describe` finds it, calling its function
     with an OIDC token whose audience is the function's URL.
  5. the API Gateway in front of the user-facing functions (deploy/gateway.py): its account
     becomes their only invoker, then the API, a new API config and the gateway. The config is
     generated from the OpenAPI document, which needs our packages: written by this script's
     own step from a checkout, or by Cloud Build's gateway-config step (--gateway-config).
     Every function verifies callers' tokens itself as well (AUTH_MODE=jwt).

--rollback redeploys older code: migrations are forward-only, so the schema stays as it is and
neither the migration step nor the cold-start migration runs (older code would refuse a database
holding migrations it does not ship).

--dry-run prints every command, one per line, shell-quoted (lines starting with # explain), and
runs none: it needs no gcloud. Standard library only, so it runs in the gcloud image.
"""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ROOT = Path(__file__).resolve().parent.parent
# The registry of functions is standard library only, so it loads in the gcloud image too; so
# are this directory's modules (on the path when run as a script, not when a test loads it).
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "deploy"))

import gateway  # noqa: E402
from arguments import parser  # noqa: E402
from scheduler import scheduled, scheduler_steps  # noqa: E402
from stage import stage  # noqa: E402
from steps import PlanError, Step, run  # noqa: E402

from shared.registry import FUNCTIONS, Function  # noqa: E402

RUNTIME = "python312"


def _iam_db_user(service_account: str) -> str:
    # IAM database users are the account's email without ".gserviceaccount.com".
    return service_account.removesuffix(".gserviceaccount.com")


def database_env(args: argparse.Namespace) -> dict[str, str]:
    env = {
        "INSTANCE_CONNECTION_NAME": args.instance,
        "DB_IP_TYPE": args.ip_type,
        "DB_NAME": args.db_name,
        "DB_USER": _iam_db_user(args.runtime_sa) if args.iam_auth else args.db_user,
        "DB_IAM_AUTH": "true" if args.iam_auth else "false",
    }
    return env


def function_env(args: argparse.Namespace, function: Function) -> dict[str, str]:
    env = {
        **database_env(args),
        "FLEET_TIMEZONE": args.timezone,
        "GOOGLE_CLOUD_PROJECT": args.project,
        "THREADS": str(function.concurrency),
        "DB_POOL_SIZE": str(function.concurrency),
        "DB_MAX_OVERFLOW": "0",
        # The safety net: an instance that starts before the migration step finished (or a
        # deploy that skipped it) still finds the schema current. Off for a rollback: older
        # code refuses a database with migrations it does not ship, on purpose.
        "MIGRATE_ON_START": "false" if args.rollback else "true",
        **gateway.auth_env(args.project, args.region, function, args.scheduler_sa),
        **console_env(args, function),
        **function.extra_env,
    }
    for key, value in env.items():
        if "," in value:
            raise PlanError(f"{key}={value!r}: --set-env-vars cannot carry a comma")
    return env


def console_env(args: argparse.Namespace, function: Function) -> dict[str, str]:
    """The console's sign-in: Identity Platform's Web API key, on the console only (the page
    hands it to the browser). Not a secret in Firebase's model: it names the project to the
    sign-in API; the ID tokens it leads to are what the functions check."""
    if function.name != "console" or not args.identity_api_key:
        return {}
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,128}", args.identity_api_key):
        raise PlanError("--identity-api-key is a Google API key: letters, digits, '-' and '_'")
    return {"CONSOLE_IDENTITY_API_KEY": args.identity_api_key}


def min_instances(args: argparse.Namespace, function: Function) -> int:
    chosen: int = args.min_instances.get(function.name, function.min_instances)
    return chosen


def check_resources(args: argparse.Namespace) -> None:
    unknown = sorted(set(args.min_instances) - {f.name for f in FUNCTIONS})
    if unknown:
        raise PlanError(f"--min-instances names no function: {', '.join(unknown)}")
    for function in FUNCTIONS:
        if not 0 <= min_instances(args, function) <= function.max_instances:
            raise PlanError(
                f"{function.name}: --min-instances must be 0 to its max instances "
                f"({function.max_instances})"
            )
        if function.concurrency > 1 and float(function.cpu) < 1:
            raise PlanError(f"{function.name}: concurrency > 1 needs --cpu >= 1")
    for function, job in scheduled():
        if job.attempt_deadline_s < function.timeout_s:
            raise PlanError(f"{job.job}: the attempt deadline is shorter than the timeout")
    total = sum(f.connections for f in FUNCTIONS)
    budget = args.db_max_connections - args.db_reserved_connections
    if total > budget:
        raise PlanError(
            f"the functions may open {total} connections, more than the {budget} the database "
            f"allows them ({args.db_max_connections} max_connections less "
            f"{args.db_reserved_connections} kept): lower max instances or concurrency"
        )


def migrate_steps(args: argparse.Namespace) -> list[Step]:
    env = {**database_env(args), "MIGRATE_ON_START": "false"}
    steps = []
    if not args.iam_auth:
        steps.append(
            Step(
                [
                    "gcloud",
                    "secrets",
                    "versions",
                    "access",
                    "latest",
                    f"--secret={args.db_secret}",
                    f"--project={args.project}",
                ],
                note="the password for the migration, kept in DB_PASS of the next command only",
                capture_as="DB_PASS",
            )
        )
    steps.append(
        Step(
            [args.python, "-m", "ops.cli", "migrate"],
            env=env,
            note="migrations before traffic, through the Cloud SQL connector",
        )
    )
    return steps


def deploy_step(args: argparse.Namespace, function: Function, source: Path) -> Step:
    env = function_env(args, function)
    argv = [
        "gcloud",
        "functions",
        "deploy",
        function.name,
        "--gen2",
        f"--runtime={RUNTIME}",
        "--trigger-http",
        "--no-allow-unauthenticated",
        f"--entry-point={function.name}",
        f"--source={source}",
        f"--project={args.project}",
        f"--region={args.region}",
        f"--service-account={args.runtime_sa}",
        "--set-env-vars=" + ",".join(f"{k}={v}" for k, v in env.items()),
        f"--memory={function.memory}",
        f"--cpu={function.cpu}",
        f"--timeout={function.timeout_s}s",
        f"--min-instances={min_instances(args, function)}",
        f"--max-instances={function.max_instances}",
        f"--concurrency={function.concurrency}",
    ]
    if not args.iam_auth:
        argv.append(f"--set-secrets=DB_PASS={args.db_secret}:latest")
    if args.vpc_connector:
        argv += [f"--vpc-connector={args.vpc_connector}", "--egress-settings=private-ranges-only"]
    return Step(argv)


def plan(args: argparse.Namespace, source: Path, config: Path) -> list[Step]:
    """Every step; `config` is where the gateway's API config is (--gateway-config) or will be
    written (the checkout's own step, before anything is deployed, so a document that does not
    convert stops the deploy early)."""
    check_resources(args)
    if len(args.instance.split(":")) != 3 or not all(args.instance.split(":")):
        raise PlanError(
            f"--instance {args.instance!r} is not a connection name project:region:name"
        )
    if args.ip_type in {"PRIVATE", "PSC"} and not args.vpc_connector:
        raise PlanError(f"DB_IP_TYPE={args.ip_type} needs --vpc-connector (egress to the VPC)")
    steps = [] if args.skip_migrate or args.rollback else migrate_steps(args)
    if not args.gateway_config:
        steps.append(gateway.config_step(args, config))
    steps += [deploy_step(args, function, source) for function in FUNCTIONS]
    for function, job in scheduled():
        steps += scheduler_steps(args, function, job)
    steps += gateway.gateway_steps(args, config)
    return steps


def print_plan(steps: Sequence[Step]) -> None:
    for step in steps:
        if step.note:
            print(f"# {step.note}")
        print(step.render())


def main(argv: Sequence[str] | None = None) -> int:
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    args.min_instances = dict(args.min_instances)
    accounts = f"{args.project}.iam.gserviceaccount.com"
    args.runtime_sa = args.runtime_sa or f"fleet-runtime@{accounts}"
    args.scheduler_sa = args.scheduler_sa or f"fleet-scheduler@{accounts}"
    args.gateway_sa = args.gateway_sa or f"fleet-gateway@{accounts}"
    args.gateway_region = args.gateway_region or args.region
    # API configs are immutable and their IDs unique: one per deploy, named by its time.
    args.gateway_config_id = time.strftime("fleet-%Y%m%d-%H%M%S", time.gmtime())
    try:
        ZoneInfo(args.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        print(f"deploy: --timezone {args.timezone!r} is not an IANA time zone", file=sys.stderr)
        return 2
    if args.stage_only:
        stage(args.stage_only, pin_installed=args.pin_installed)
        print(args.stage_only)
        return 0
    try:
        if args.dry_run:
            config = args.gateway_config or Path("<temporary directory>/gateway.json")
            print_plan(plan(args, Path("<staged source>"), config))
            return 0
        if args.gateway_config and not args.gateway_config.is_file():
            raise PlanError(f"--gateway-config {args.gateway_config}: no such file")
        with tempfile.TemporaryDirectory(prefix="fleet-deploy-") as tmp:
            source = stage(Path(tmp) / "source", pin_installed=args.pin_installed)
            run(plan(args, source, args.gateway_config or Path(tmp) / "gateway.json"), cwd=ROOT)
    except PlanError as exc:
        print(f"deploy: {exc}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as exc:
        print(f"deploy: {shlex.join(exc.cmd)} failed ({exc.returncode})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
