"""Cloud Scheduler's part of the deploy: the scheduler's account may invoke the scheduled
functions only, and each job is created, or updated when `describe` finds it, calling its
function with an OIDC token whose audience is the function's URL.

Standard library only, like every module in deploy/: deploy.py runs in the gcloud image.
"""

from __future__ import annotations

import argparse

from gateway import functions_origin
from steps import Step

from shared.registry import FUNCTIONS, Function, Schedule


def function_url(args: argparse.Namespace, name: str) -> str:
    # The URL Cloud Functions gives a function (v2 API's `url`); the OIDC audience matches it.
    return f"{functions_origin(args.project, args.region)}/{name}"


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
