"""Every command the deploy's dry run prints gets past gcloud's own argument parser: with no
account configured, gcloud parses the whole command line first, then stops at "no active
account". A flag gcloud does not know, or a bad value, stops it earlier with another error.
Also: warm instances per function (--min-instances NAME=N), zero unless asked for."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from shared import registry
from tests.helpers import deploy_plan, run_deploy

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
BASE = ["--project", "acme-fleet", "--region", "europe-west1"]
BASE += ["--instance", "acme-fleet:europe-west1:fleet-db"]
# Between them, every kind of command and flag the script can print (gcloud is slow to start,
# so the same flags are not parsed twice).
PLANS = {
    "password": ["--timezone", "Europe/Paris"],
    "iam-private-warm": [
        *("--iam-auth", "--ip-type", "PRIVATE", "--vpc-connector", "fleet-connector"),
        *("--min-instances", "update_progress=1", "--skip-migrate"),
    ],
}
NO_ACCOUNT = "You do not currently have an active account selected"


def plan(*extra: str) -> list[list[str]]:
    return deploy_plan(*BASE, *extra)


def gcloud_says(command: list[str], config_dir: str) -> str:
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
        check=False,
        env={
            "PATH": os.environ["PATH"],
            "HOME": config_dir,
            # A configuration of its own: no account, no project, nothing from this machine.
            "CLOUDSDK_CONFIG": config_dir,
            "CLOUDSDK_CORE_DISABLE_PROMPTS": "1",
        },
    )
    assert done.returncode != 0, command
    return done.stderr


def test_every_printed_gcloud_command_parses() -> None:
    gcloud = shutil.which("gcloud")
    assert gcloud, "gcloud is needed here: install Debian's google-cloud-cli package"
    commands = {
        shlex.join(command): command
        for extra in PLANS.values()
        for command in plan(*extra)
        if command[0] == "gcloud"
    }
    assert len(commands) > 25
    with tempfile.TemporaryDirectory() as config_dir, ThreadPoolExecutor(4) as pool:
        said = dict(
            zip(
                commands,
                pool.map(lambda c: gcloud_says([gcloud, *c[1:]], config_dir), commands.values()),
                strict=True,
            )
        )
    refused = {line: stderr for line, stderr in said.items() if NO_ACCOUNT not in stderr}
    assert not refused, refused


def test_a_flag_gcloud_does_not_know_is_caught_by_the_same_check() -> None:
    gcloud = shutil.which("gcloud")
    assert gcloud
    deploy = next(c for c in plan() if c[:3] == ["gcloud", "functions", "deploy"])
    with tempfile.TemporaryDirectory() as config_dir:
        stderr = gcloud_says([gcloud, *deploy[1:], "--max-instance=3"], config_dir)
    assert NO_ACCOUNT not in stderr and "unrecognized arguments" in stderr


def _flag(command: list[str], name: str) -> str:
    return next(arg.split("=", 1)[1] for arg in command if arg.startswith(f"{name}="))


def test_no_function_is_kept_warm_unless_asked() -> None:
    deploys = {c[3]: c for c in plan() if c[:3] == ["gcloud", "functions", "deploy"]}
    assert {name: _flag(c, "--min-instances") for name, c in deploys.items()} == dict.fromkeys(
        registry.NAMES, "0"
    )
    warm = {
        c[3]: c
        for c in plan("--min-instances", "update_progress=1")
        if c[:3] == ["gcloud", "functions", "deploy"]
    }
    assert _flag(warm["update_progress"], "--min-instances") == "1"
    assert _flag(warm["get_targets"], "--min-instances") == "0"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--min-instances", "update_progress=9"], "must be 0 to its max instances (5)"),
        (["--min-instances", "no_such=1"], "names no function: no_such"),
        (["--min-instances", "update_progress"], "is not NAME=N"),
        (["--min-instances", "update_progress=-1"], "is not NAME=N"),
    ],
)
def test_bad_warm_instances_are_refused(extra: list[str], message: str) -> None:
    result = run_deploy(*BASE, "--dry-run", *extra)
    assert result.returncode == 2
    assert message in result.stderr
