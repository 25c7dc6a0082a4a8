"""A deploy that runs (not a dry run), against a stand-in for the gcloud CLI: Google's own
boundary, the only part faked. It records each command; `describe` answers "found" only for the
API, so both branches of the plan's probes are taken."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.registry import FUNCTIONS
from tests.helpers import DEPLOY_SCRIPT, PROJECT_ROOT, deploy_plan

pytestmark = pytest.mark.slow

ARGS = [
    "--project=acme-fleet",
    "--region=europe-west1",
    "--instance=acme-fleet:europe-west1:fleet-db",
    "--skip-migrate",
]

FAKE_GCLOUD = """#!{python}
import json, os, sys
args = sys.argv[1:]
spec = next((a.split("=", 1)[1] for a in args if a.startswith("--openapi-spec=")), None)
record = {{"args": args, "spec_is_json": None}}
if spec is not None:
    with open(spec) as config:
        record["spec_is_json"] = isinstance(json.load(config), dict)
with open({log!r}, "a") as log:
    log.write(json.dumps(record) + "\\n")
if args[:3] == ["api-gateway", "apis", "describe"]:
    sys.exit(0)
if "describe" in args:
    sys.exit(0 if "--format=value(defaultHostname)" in args else 1)
"""


def test_a_deploy_runs_the_dry_runs_commands_in_order_taking_each_probes_branch(
    tmp_path: Path,
) -> None:
    log = tmp_path / "gcloud.jsonl"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    gcloud = bin_dir / "gcloud"
    gcloud.write_text(FAKE_GCLOUD.format(python=sys.executable, log=str(log)))
    gcloud.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        [sys.executable, str(DEPLOY_SCRIPT), *ARGS],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    ran = [call["args"] for call in calls]

    planned = [c[1:] for c in deploy_plan(*ARGS) if c[0] == "gcloud"]

    def shape(command: list[str]) -> list[str]:
        # The staged source and the config's file and id differ between the two runs.
        return [
            a
            for a in command
            if not a.startswith(("--source=", "--openapi-spec=", "--api-config=", "fleet-2"))
        ]

    # What describe said decides: no job and no gateway yet (create), the API found (no create).
    skipped = [
        ["scheduler", "jobs", "update"],
        ["api-gateway", "gateways", "update"],
        ["api-gateway", "apis", "create"],
    ]
    expected = [c for c in planned if c[:3] not in skipped]
    assert [shape(c) for c in ran] == [shape(c) for c in expected]
    sources = [a for c in ran if c[:2] == ["functions", "deploy"] for a in c if "--source=" in a]
    assert len(sources) == len(FUNCTIONS)
    assert all(Path(a.removeprefix("--source=")).name == "source" for a in sources)
    (config,) = [call for call in calls if call["args"][:2] == ["api-gateway", "api-configs"]]
    assert config["spec_is_json"] is True
    assert "+ gcloud functions deploy set_targets" in result.stderr
