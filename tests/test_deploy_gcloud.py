"""Every command the deploy's dry run prints gets past gcloud's own argument parser: with no
account configured, gcloud parses the whole command line first, then stops at "no active
account". A flag gcloud does not know, or a bad value, stops it earlier with another error.
Also: warm instances per function (--min-instances NAME=N), zero unless asked for."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from shared import registry
from tests.helpers import deploy_plan, run_deploy

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
BASE = ["--project", "acme-fleet", "--region", "europe-west1"]
BASE += ["--instance", "acme-fleet:europe-west1:fleet-db"]
# Between them, every kind of command and flag the script can print.
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


def gcloud_sdk() -> tuple[str, Path]:
    """The Python `gcloud` runs on (as its launcher chooses: CLOUDSDK_PYTHON, else its bundled
    one, else python3) and its `lib` directory."""
    gcloud = shutil.which("gcloud")
    assert gcloud, "gcloud is needed here: install Debian's google-cloud-cli package"
    root = Path(gcloud).resolve().parent.parent
    bundled = root / "platform" / "bundledpythonunix" / "bin" / "python3"
    python = os.environ.get("CLOUDSDK_PYTHON") or (str(bundled) if bundled.exists() else "")
    return python or shutil.which("python3") or sys.executable, root / "lib"


def gcloud_says(commands: list[list[str]]) -> list[str]:
    """What gcloud writes to stderr for each command (each fails: there is no account), all
    parsed by one gcloud CLI (tests/gcloud_parse.py) in a configuration of its own."""
    python, sdk_lib = gcloud_sdk()
    with tempfile.TemporaryDirectory() as config_dir:
        done = subprocess.run(
            [python, "-S", str(ROOT / "tests" / "gcloud_parse.py"), str(sdk_lib)],
            input=json.dumps([command[1:] for command in commands]),
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
            env={
                "PATH": os.environ["PATH"],
                "HOME": config_dir,
                # No account, no project, nothing from this machine.
                "CLOUDSDK_CONFIG": config_dir,
                "CLOUDSDK_CORE_DISABLE_PROMPTS": "1",
            },
        )
    results = json.loads(done.stdout)
    assert all(result["code"] != 0 for result in results), commands
    return [result["stderr"] for result in results]


def test_every_printed_gcloud_command_parses() -> None:
    commands = {
        shlex.join(command): command
        for extra in PLANS.values()
        for command in plan(*extra)
        if command[0] == "gcloud"
    }
    assert len(commands) > 25
    said = dict(zip(commands, gcloud_says(list(commands.values())), strict=True))
    refused = {line: stderr for line, stderr in said.items() if NO_ACCOUNT not in stderr}
    assert not refused, refused


def test_a_flag_gcloud_does_not_know_is_caught_by_the_same_check() -> None:
    deploy = next(c for c in plan() if c[:3] == ["gcloud", "functions", "deploy"])
    [stderr] = gcloud_says([[*deploy, "--max-instance=3"]])
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
