"""The pg8000 speed-ups rely on members outside pg8000's public API: a pg8000 whose members
moved is refused by name when an engine is built, not discovered by a failing request; and
statements rewritten once are rewritten exactly as pg8000 rewrites them."""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path

import pg8000
import pg8000.converters
import pg8000.core
import pg8000.dbapi
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from shared.db import pg8000_speedups
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


STATEMENTS = [
    "SELECT * FROM record_progress(%s, %s, CAST(%s AS text[]))",
    "SELECT 'it''s %s', \"odd%col\", E'\\'%s' FROM t WHERE a = %s -- %s\n AND b = %s",
    "SELECT $$ %s $$, 100 %% 7, %s::int",
]


@pytest.mark.parametrize("statement", STATEMENTS)
def test_statements_are_rewritten_as_pg8000_rewrites_them(statement: str) -> None:
    values = (1, "x", None)
    expected = pg8000_speedups._convert_paramstyle("format", statement, values)
    assert pg8000_speedups._convert_paramstyle_once("format", statement, values) == expected
    # The second time from the cache, with other values: the same text, these values.
    rewritten, passed = pg8000_speedups._convert_paramstyle_once("format", statement, (2,))
    assert (rewritten, passed) == (expected[0], (2,))


def test_a_statement_pg8000_refuses_is_refused_every_time() -> None:
    for _ in range(2):
        with pytest.raises(pg8000.dbapi.InterfaceError, match="Only %s and %% are supported"):
            pg8000_speedups._convert_paramstyle_once("format", "SELECT %d", (1,))


def test_an_engine_rewrites_each_statement_once_and_long_ones_every_time(engine: Engine) -> None:
    assert pg8000.dbapi.convert_paramstyle is pg8000_speedups._convert_paramstyle_once
    short = "SELECT CAST(:n AS int) + 0 AS n"
    long = "SELECT CAST(:n AS int) AS n" + " " * pg8000_speedups._CACHED_STATEMENT_CHARS
    with engine.connect() as conn:
        for n in range(3):
            assert conn.execute(sa.text(short), {"n": n}).scalar_one() == n
        rewritten = pg8000_speedups._numbered.cache_info()
        for n in range(3):
            assert conn.execute(sa.text(long), {"n": n}).scalar_one() == n
    assert pg8000_speedups._numbered.cache_info().currsize == rewritten.currsize
    assert rewritten.hits >= 2


def test_a_moved_placeholder_rewriting_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pg8000_speedups, "_convert_paramstyle", lambda query, args: None)
    with pytest.raises(Pg8000Mismatch, match="convert_paramstyle"):
        check_pg8000()


@pytest.mark.parametrize("text", ["2026-12-01", "0099-01-01", "infinity", "-infinity"])
def test_dates_are_read_as_pg8000_reads_them(text: str) -> None:
    assert pg8000_speedups._date_in(text) == pg8000.converters.date_in(text)


@pytest.mark.parametrize(
    "text",
    [
        "2026-12-01 14:43:05.123456+00",
        "2026-12-01 14:43:05.12+00",
        "2026-12-01 14:43:05+00",
        "2026-12-01 14:43:05.5+05:30",
        "infinity",
        "-infinity",
    ],
)
def test_times_are_read_as_pg8000_reads_them(text: str) -> None:
    ours, theirs = pg8000_speedups._timestamptz_in(text), pg8000.converters.timestamptz_in(text)
    assert ours == theirs
    if isinstance(ours, dt.datetime):
        assert ours.utcoffset() == theirs.utcoffset()


def test_an_engine_reads_dates_and_times_from_the_database(engine: Engine) -> None:
    statement = sa.text(
        "SELECT DATE '2026-12-01', TIMESTAMPTZ '2026-12-01 14:43:05.5+00',"
        " DATE 'infinity', TIMESTAMPTZ '-infinity'"
    )
    with engine.connect() as conn:
        row = conn.execute(statement).one()
        readers = conn.connection.dbapi_connection.pg_types
    assert readers[pg8000.converters.DATE] is pg8000_speedups._date_in
    assert readers[pg8000.converters.TIMESTAMPTZ] is pg8000_speedups._timestamptz_in
    expected_time = dt.datetime(2026, 12, 1, 14, 43, 5, 500000, tzinfo=dt.UTC)
    assert tuple(row) == (dt.date(2026, 12, 1), expected_time, "infinity", "-infinity")
