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

--rollback redeploys older code: migrations are forward-only, so the schema stays as it is and
neither the migration step nor the cold-start migration runs (older code would refuse a database
holding migrations it does not ship).

--dry-run prints every command, one per line, shell-quoted (lines starting with # explain), and
runs none: it needs no gcloud. Standard library only, so it runs in the gcloud image.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ROOT = Path(__file__).resolve().parent.parent
# The registry of functions is standard library only, so it loads in the gcloud image too.
sys.path.insert(0, str(ROOT))

from shared.registry import FUNCTIONS, Function, Schedule  # noqa: E402

# What the Python runtime needs beside requirements.txt: main.py imports functions/, which
# imports shared/, which reads migrations/ (cold-start migration). The local stack (local/) and
# the command line (ops/) are never staged.
STAGED_FILES = ("main.py",)
STAGED_DIRS = ("functions", "shared", "migrations")
RUNTIME = "python312"


@dataclass(frozen=True)
class Step:
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    note: str | None = None
    # The step's stdout becomes this environment variable of later steps (never printed).
    capture_as: str | None = None
    # A probe (describe) whose exit status picks the next step: when_found or when_missing.
    probe: bool = False
    when_found: bool | None = None

    def render(self) -> str:
        prefix = ["env", *(f"{k}={v}" for k, v in self.env.items())] if self.env else []
        return shlex.join(prefix + self.argv)


class PlanError(ValueError):
    """The chosen settings break a rule the deploy relies on."""


def function_url(args: argparse.Namespace, name: str) -> str:
    # The URL Cloud Functions gives a function (v2 API's `url`); the OIDC audience matches it.
    return f"https://{args.region}-{args.project}.cloudfunctions.net/{name}"


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
        **function.extra_env,
    }
    for key, value in env.items():
        if "," in value:
            raise PlanError(f"{key}={value!r}: --set-env-vars cannot carry a comma")
    return env


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


def scheduled() -> list[tuple[Function, Schedule]]:
    return [(function, function.schedule) for function in FUNCTIONS if function.schedule]


def scheduler_steps(args: argparse.Namespace, function: Function, job: Schedule) -> list[Step]:
    member = f"serviceAccount:{args.scheduler_sa}"
    where = [f"--project={args.project}", f"--location={args.region}"]
    url = function_url(args, function.name)
    flags = [
        f"--schedule={job.cron}",
        f"--time-zone={args.timezone}",
        f"--uri={url}",
        "--http-method=POST",
        f"--oidc-service-account-email={args.scheduler_sa}",
        f"--oidc-token-audience={url}",
        f"--attempt-deadline={job.attempt_deadline_s}s",
        f"--max-retry-attempts={job.max_retry_attempts}",
        f"--min-backoff={job.min_backoff}",
        f"--max-backoff={job.max_backoff}",
        f"--max-doublings={job.max_doublings}",
        *where,
    ]
    return [
        Step(
            [
                "gcloud",
                "functions",
                "add-invoker-policy-binding",
                function.name,
                f"--member={member}",
                f"--project={args.project}",
                f"--region={args.region}",
            ],
            note=f"roles/run.invoker on {function.name} for the scheduler's account, nothing else",
        ),
        Step(["gcloud", "scheduler", "jobs", "describe", job.job, *where], probe=True),
        Step(
            ["gcloud", "scheduler", "jobs", "create", "http", job.job, *flags],
            note="create when describe finds no job, else update with the same flags",
            when_found=False,
        ),
        Step(["gcloud", "scheduler", "jobs", "update", "http", job.job, *flags], when_found=True),
    ]


def plan(args: argparse.Namespace, source: Path) -> list[Step]:
    check_resources(args)
    if len(args.instance.split(":")) != 3 or not all(args.instance.split(":")):
        raise PlanError(
            f"--instance {args.instance!r} is not a connection name project:region:name"
        )
    if args.ip_type in {"PRIVATE", "PSC"} and not args.vpc_connector:
        raise PlanError(f"DB_IP_TYPE={args.ip_type} needs --vpc-connector (egress to the VPC)")
    steps = [] if args.skip_migrate or args.rollback else migrate_steps(args)
    steps += [deploy_step(args, function, source) for function in FUNCTIONS]
    for function, job in scheduled():
        steps += scheduler_steps(args, function, job)
    return steps


def runtime_requirements(pin_installed: bool) -> list[str]:
    """pyproject's runtime dependencies (never the local/dev extras), optionally pinned to the
    versions installed here, the ones the tests ran with."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements: list[str] = project["dependencies"]
    if not pin_installed:
        return list(requirements)
    pinned = []
    for requirement in requirements:
        name = requirement.split(">")[0].split("<")[0].split("=")[0].split("[")[0].strip()
        extras = requirement[len(name) :].split("]")[0] + "]" if "[" in requirement else ""
        pinned.append(f"{name}{extras}=={metadata.version(name)}")
    return pinned


def stage(target: Path, *, pin_installed: bool = False) -> Path:
    """What Cloud Functions builds: the sources main.py needs and requirements.txt."""
    target.mkdir(parents=True, exist_ok=True)
    for name in STAGED_FILES:
        shutil.copy2(ROOT / name, target / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in STAGED_DIRS:
        shutil.copytree(ROOT / name, target / name, ignore=ignore, dirs_exist_ok=True)
    lines = runtime_requirements(pin_installed)
    (target / "requirements.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def print_plan(steps: Sequence[Step]) -> None:
    for step in steps:
        if step.note:
            print(f"# {step.note}")
        print(step.render())


def _call(step: Step, env: dict[str, str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    # The argv is this script's own list (no shell); its values come from our flags.
    return subprocess.run(step.argv, env=env, text=True, cwd=ROOT, **kwargs)  # noqa: S603


def run(steps: Sequence[Step]) -> None:
    captured: dict[str, str] = {}
    found = False
    for step in steps:
        if step.when_found is not None and step.when_found != found:
            continue
        if step.capture_as and step.capture_as in os.environ:
            continue  # given already (Cloud Build's secretEnv, say)
        print(f"+ {step.render()}", file=sys.stderr, flush=True)
        env = {**os.environ, **captured, **step.env}
        if step.capture_as:
            result = _call(step, env, check=True, stdout=subprocess.PIPE)
            captured[step.capture_as] = result.stdout.strip()
        elif step.probe:
            probed = _call(step, env, capture_output=True, check=False)
            found = probed.returncode == 0
        else:
            _call(step, env, check=True)


def _warm_instances(text: str) -> tuple[str, int]:
    name, _, count = text.partition("=")
    if not name or not count.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=N (e.g. update_progress=1)")
    return name, int(count)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", required=True)
    parser.add_argument("--region", required=True)
    parser.add_argument("--instance", required=True, help="connection name project:region:name")
    parser.add_argument("--timezone", default="UTC", help="FLEET_TIMEZONE (IANA name)")
    parser.add_argument("--ip-type", choices=("PUBLIC", "PRIVATE", "PSC"), default="PUBLIC")
    parser.add_argument("--vpc-connector", help="Serverless VPC Access connector (PRIVATE/PSC)")
    parser.add_argument("--db-name", default="fleet")
    parser.add_argument("--db-user", default="fleet")
    parser.add_argument("--db-secret", default="fleet-db-pass", help="Secret Manager secret")
    parser.add_argument(
        "--iam-auth", action="store_true", help="IAM database auth: no password, no secret"
    )
    parser.add_argument("--runtime-sa", help="default fleet-runtime@PROJECT.iam...")
    parser.add_argument("--scheduler-sa", help="default fleet-scheduler@PROJECT.iam...")
    parser.add_argument("--db-max-connections", type=int, default=100)
    parser.add_argument("--db-reserved-connections", type=int, default=10)
    parser.add_argument("--python", default=sys.executable, help="runs the migration")
    parser.add_argument("--skip-migrate", action="store_true", help="migrated already")
    parser.add_argument(
        "--rollback",
        action="store_true",
        help="redeploying older code: no migration, no cold-start migration (schema stays ahead)",
    )
    parser.add_argument(
        "--min-instances",
        type=_warm_instances,
        action="append",
        default=[],
        metavar="NAME=N",
        help="keep N instances of function NAME warm (no cold start; billed while idle); "
        "repeatable, default 0 for every function",
    )
    parser.add_argument("--pin-installed", action="store_true", help="pin installed versions")
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run none")
    parser.add_argument("--stage-only", type=Path, metavar="DIR", help="stage into DIR, stop")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    args.min_instances = dict(args.min_instances)
    accounts = f"{args.project}.iam.gserviceaccount.com"
    args.runtime_sa = args.runtime_sa or f"fleet-runtime@{accounts}"
    args.scheduler_sa = args.scheduler_sa or f"fleet-scheduler@{accounts}"
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
            print_plan(plan(args, Path("<staged source>")))
            return 0
        with tempfile.TemporaryDirectory(prefix="fleet-deploy-") as tmp:
            source = stage(Path(tmp) / "source", pin_installed=args.pin_installed)
            run(plan(args, source))
    except PlanError as exc:
        print(f"deploy: {exc}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as exc:
        print(f"deploy: {shlex.join(exc.cmd)} failed ({exc.returncode})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
