"""Repeatable migration files (migrations/repeatable/<area>.sql): run after the versioned ones in
a fixed order, again whenever they change (with what requires them), recorded as R:<area>."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from shared.db.engine import build_engine
from shared.db.migration_files import MIGRATIONS_DIR
from shared.db.migrations import load_migrations, migrate, status
from shared.errors import MigrationError
from shared.settings import Settings

# The functions behind a stored column (driver_performance_history.achievement_percentage).
STORED_COLUMN_FUNCTIONS = {"progress_percentage", "calculate_achievement_percentage"}
_CREATE = re.compile(r"^CREATE (OR REPLACE )?(FUNCTION|TRIGGER|VIEW) (\w+)", re.MULTILINE)


@pytest.fixture
def engine_on_empty(databases):
    bundle = build_engine(Settings(database_url=databases.create(), migrate_on_start=False))
    yield bundle.engine
    bundle.close()


def write(directory, name, sql):
    path = directory / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(sql, encoding="utf-8")


def area(directory, name, answer, requires=""):
    """A repeatable file whose function `name`() answers `answer`, calling what it requires."""
    header = f"-- requires: {requires}\n" if requires else ""
    called = " + ".join([str(answer), *(f"{r}()" for r in requires.split(", ") if r)])
    write(
        directory,
        f"repeatable/{name}.sql",
        f"{header}CREATE OR REPLACE FUNCTION {name}() RETURNS integer"
        f" LANGUAGE sql RETURN {called};\n",
    )


def answer(engine, function):
    with engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT {function}()")).scalar_one()


@pytest.fixture
def three_areas(tmp_path):
    """0001, and areas a (requires c), b and c: SQL bodies, so a fails unless c exists."""
    write(tmp_path, "0001_first.sql", "CREATE TABLE first (id integer);")
    area(tmp_path, "a", 1, requires="c")
    area(tmp_path, "b", 20)
    area(tmp_path, "c", 300)
    return tmp_path


def test_they_run_after_the_versioned_files_after_what_they_require_else_by_name(
    three_areas, engine_on_empty
):
    expected = ["0001_first.sql", "repeatable/c.sql", "repeatable/a.sql", "repeatable/b.sql"]
    assert [m.name for m in load_migrations(three_areas)] == expected
    assert migrate(engine_on_empty, migrations=load_migrations(three_areas)) == expected
    assert answer(engine_on_empty, "a") == 301
    with engine_on_empty.connect() as conn:
        versions = conn.execute(sa.text("SELECT version FROM schema_migrations")).scalars()
        assert sorted(versions) == ["0001", "R:a", "R:b", "R:c"]
    assert migrate(engine_on_empty, migrations=load_migrations(three_areas)) == []


def test_a_changed_file_runs_again_with_the_files_that_require_it(three_areas, engine_on_empty):
    migrate(engine_on_empty, migrations=load_migrations(three_areas))
    area(three_areas, "c", 4000)
    assert migrate(engine_on_empty, migrations=load_migrations(three_areas)) == [
        "repeatable/c.sql",
        "repeatable/a.sql",
    ]
    assert answer(engine_on_empty, "a") == 4001
    assert migrate(engine_on_empty, migrations=load_migrations(three_areas)) == []


def test_status_says_a_changed_shipped_file_is_pending(engine_on_empty):
    migrate(engine_on_empty)
    with engine_on_empty.begin() as conn:
        conn.execute(
            sa.text("UPDATE schema_migrations SET checksum = 'older' WHERE version = 'R:progress'")
        )
    states = dict(status(engine_on_empty))
    assert states["repeatable/progress.sql"].startswith("pending: changed since it was applied ")
    assert states["repeatable/webhooks.sql"].startswith("applied ")
    assert migrate(engine_on_empty) == ["repeatable/progress.sql"]


def test_a_file_that_disappeared_stops_migration_until_a_versioned_file_retires_it(
    three_areas, engine_on_empty
):
    migrate(engine_on_empty, migrations=load_migrations(three_areas))
    (three_areas / "repeatable" / "b.sql").unlink()
    with pytest.raises(MigrationError, match=r"repeatable/b\.sql is applied .* but missing"):
        migrate(engine_on_empty, migrations=load_migrations(three_areas))

    write(
        three_areas,
        "0002_retire_b.sql",
        "DROP FUNCTION b(); DELETE FROM schema_migrations WHERE version = 'R:b';",
    )
    assert migrate(engine_on_empty, migrations=load_migrations(three_areas)) == [
        "0002_retire_b.sql"
    ]


def test_unknown_or_circular_requirements_and_bad_names_are_refused(three_areas):
    area(three_areas, "b", 20, requires="nowhere")
    with pytest.raises(MigrationError, match=r"repeatable/b\.sql requires nowhere"):
        load_migrations(three_areas)
    area(three_areas, "b", 20)
    area(three_areas, "c", 300, requires="a")
    with pytest.raises(MigrationError, match=r"require each other: a -> c -> a"):
        load_migrations(three_areas)
    area(three_areas, "c", 300)
    write(three_areas, "repeatable/Bad-Name.sql", "SELECT 1;")
    with pytest.raises(MigrationError, match="lower_snake"):
        load_migrations(three_areas)


def test_the_live_code_is_only_in_repeatable_files():
    """Versioned files create only the functions a stored column needs; every repeatable CREATE
    replaces, so running a file again is safe."""
    in_versioned = {
        name
        for path in MIGRATIONS_DIR.glob("*.sql")
        for _, _, name in _CREATE.findall(path.read_text(encoding="utf-8"))
    }
    assert in_versioned == STORED_COLUMN_FUNCTIONS
    for path in MIGRATIONS_DIR.glob("repeatable/*.sql"):
        creates = _CREATE.findall(path.read_text(encoding="utf-8"))
        assert creates, path.name
        assert all(replace for replace, _, _ in creates), path.name
