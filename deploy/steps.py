"""One command of the deploy plan, running a plan, and the error a plan that breaks a rule
stops with.

Standard library only, like every module in deploy/: deploy.py runs in the gcloud image.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


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


def _call(step: Step, env: dict[str, str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    # The argv is this script's own list (no shell); its values come from our flags.
    return subprocess.run(step.argv, env=env, text=True, **kwargs)  # noqa: S603


def run(steps: Sequence[Step], *, cwd: Path) -> None:
    """Runs the plan in `cwd` (the checkout), skipping the steps a probe ruled out."""
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
            result = _call(step, env, cwd=cwd, check=True, stdout=subprocess.PIPE)
            captured[step.capture_as] = result.stdout.strip()
        elif step.probe:
            probed = _call(step, env, cwd=cwd, capture_output=True, check=False)
            found = probed.returncode == 0
        else:
            _call(step, env, cwd=cwd, check=True)
