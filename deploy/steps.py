"""One command of the deploy plan, and the error a plan that breaks a rule stops with.

Standard library only, like every module in deploy/: deploy.py runs in the gcloud image.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field


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
