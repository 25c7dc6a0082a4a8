"""What Cloud Functions builds: the sources main.py needs and a requirements.txt of the runtime
dependencies only (the Python buildpack installs it).

Standard library only, like every module in deploy/: deploy.py runs in the gcloud image.
"""

from __future__ import annotations

import shutil
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# What the Python runtime needs beside requirements.txt: main.py imports functions/, which
# imports shared/, which reads migrations/ (cold-start migration). The local stack (local/) and
# the command line (ops/) are never staged.
STAGED_FILES = ("main.py",)
STAGED_DIRS = ("functions", "shared", "migrations")


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
