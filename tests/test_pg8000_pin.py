"""The pg8000 speed-ups rely on members outside pg8000's public API: a pg8000 whose members
moved is refused by name when an engine is built, not discovered by a failing request."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pg8000
import pg8000.converters
import pg8000.core
import pytest

from shared.db.engine import build_engine
from shared.db.pg8000_speedups import TESTED_PG8000_VERSIONS, Pg8000Mismatch, check_pg8000
from shared.settings import Settings


def test_the_installed_pg8000_has_every_member_the_speed_ups_use() -> None:
    check_pg8000()


def test_pyproject_pins_pg8000_to_the_tested_versions(project_root: Path) -> None:
    project = tomllib.loads((project_root / "pyproject.toml").read_text(encoding="utf-8"))
    (pin,) = [d for d in project["project"]["dependencies"] if d.startswith("pg8000")]
    assert TESTED_PG8000_VERSIONS == ("1.31",)
    assert pin == "pg8000>=1.31,<1.32"


def test_an_untested_version_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pg8000, "__version__", "1.32.0")
    with pytest.raises(Pg8000Mismatch, match=r"pg8000 1\.32\.0 is installed.*1\.31\.x only"):
        check_pg8000()


@pytest.mark.parametrize("member", ["execute_unnamed", "prepare_statement", "execute_named"])
def test_a_moved_member_is_named(monkeypatch: pytest.MonkeyPatch, member: str) -> None:
    monkeypatch.delattr(pg8000.core.CoreConnection, member)
    with pytest.raises(Pg8000Mismatch, match=rf"Connection\.{member}\("):
        check_pg8000()


def test_a_changed_signature_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    def execute_simple(self: object, statement: str, extra: object = None) -> None: ...

    monkeypatch.setattr(pg8000.core.CoreConnection, "execute_simple", execute_simple)
    with pytest.raises(Pg8000Mismatch, match=r"Connection\.execute_simple"):
        check_pg8000()


def test_a_moved_converter_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pg8000.converters, "make_params", lambda types, vals, extra: None)
    with pytest.raises(Pg8000Mismatch, match="make_params"):
        check_pg8000()


def test_building_an_engine_checks_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pg8000, "__version__", "2.0.0")
    with pytest.raises(Pg8000Mismatch):
        build_engine(Settings(database_url="postgresql://u@127.0.0.1:1/none"))
