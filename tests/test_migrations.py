"""Guarded migrations: recorded with checksums, applied once under an advisory lock however many
instances start at once, refused when an applied file changed or disappeared."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import pytest
import sqlalchemy as sa

from shared.db.engine import build_engine
from shared.db.instance import get_engine
from shared.db.migrations import MIGRATIONS_DIR, load_migrations, migrate
from shared.errors import MigrationError
from shared.settings import Settings
from tests.helpers import PROJECT_ROOT, child_env, use_database

# Versioned files by number, then the repeatable ones (repeatable/<area>.sql, version R:<area>).
SHIPPED = sorted(MIGRATIONS_DIR.glob("*.sql")) + sorted(MIGRATIONS_DIR.glob("repeatable/*.sql"))


def shipped_version(path):
    return path.name[:4] if path.parent == MIGRATIONS_DIR else f"R:{path.stem}"


def shipped_name(path):
    return str(path.relative_to(MIGRATIONS_DIR))


def fleet_migrate(database_url):
    """`fleet migrate` in a process of its own."""
    return subprocess.run(
        [sys.executable, "-m", "ops.cli", "migrate"],
        cwd=PROJECT_ROOT,
        env=child_env(database_url),
        capture_output=True,
        text=True,
        timeout=60,
    )


def recorded(engine):
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT version, name, checksum FROM schema_migrations"))
        return sorted(tuple(row) for row in rows)


def public_tables(engine):
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        ).scalars()
        return set(rows)


@pytest.fixture
def empty_database(databases):
    """A database with nothing in it, and an engine on it that migrates nothing by itself."""
    url = databases.create()
    bundle = build_engine(Settings(database_url=url, migrate_on_start=False))
    yield url, bundle.engine
    bundle.close()


def test_each_applied_file_is_recorded_with_its_checksum(engine):
    assert recorded(engine) == sorted(
        (shipped_version(path), shipped_name(path), hashlib.sha256(path.read_bytes()).hexdigest())
        for path in SHIPPED
    )


def write(directory, name, sql):
    (directory / name).write_text(sql, encoding="utf-8")


def test_a_changed_or_missing_applied_file_stops_migration(empty_database, tmp_path):
    _, engine = empty_database
    write(tmp_path, "0001_first.sql", "CREATE TABLE first (id integer);")
    write(tmp_path, "0002_second.sql", "CREATE TABLE second (id integer);")
    assert migrate(engine, migrations=load_migrations(tmp_path)) == [
        "0001_first.sql",
        "0002_second.sql",
    ]
    assert migrate(engine, migrations=load_migrations(tmp_path)) == []

    write(tmp_path, "0001_first.sql", "CREATE TABLE first (id bigint);")
    with pytest.raises(MigrationError, match=r"0001_first\.sql changed after it was applied"):
        migrate(engine, migrations=load_migrations(tmp_path))

    write(tmp_path, "0001_first.sql", "CREATE TABLE first (id integer);")
    (tmp_path / "0002_second.sql").unlink()
    write(tmp_path, "0003_third.sql", "CREATE TABLE third (id integer);")
    with pytest.raises(MigrationError, match=r"0002_second\.sql is applied .* but missing"):
        migrate(engine, migrations=load_migrations(tmp_path))
    # Nothing pending was applied past the error.
    assert "third" not in public_tables(engine)


def test_a_failing_migration_applies_nothing(empty_database, tmp_path):
    _, engine = empty_database
    write(tmp_path, "0001_fine.sql", "CREATE TABLE fine (id integer);")
    write(tmp_path, "0002_broken.sql", "CREATE TABLE broken (id integer); SELECT 1/0;")
    with pytest.raises(sa.exc.DBAPIError):
        migrate(engine, migrations=load_migrations(tmp_path))
    assert public_tables(engine) == set()


def test_migrations_run_with_their_own_timeouts_for_their_transaction_only(
    empty_database, tmp_path
):
    _, engine = empty_database
    write(
        tmp_path,
        "0001_seen.sql",
        "CREATE TABLE seen AS SELECT current_setting('lock_timeout') AS lock_timeout,"
        " current_setting('statement_timeout') AS statement_timeout;",
    )
    with engine.connect() as conn:
        before = conn.execute(sa.text("SHOW statement_timeout")).scalar()
    assert migrate(engine, migrations=load_migrations(tmp_path)) == ["0001_seen.sql"]
    with engine.connect() as conn:
        assert tuple(conn.execute(sa.text("SELECT * FROM seen")).one()) == ("1min", "0")
        # SET LOCAL: the pooled connection's own settings are as they were.
        assert conn.execute(sa.text("SHOW statement_timeout")).scalar() == before
        assert conn.execute(sa.text("SHOW lock_timeout")).scalar() == "0"


def test_a_badly_named_file_is_refused(tmp_path):
    write(tmp_path, "1_first.sql", "SELECT 1;")
    with pytest.raises(MigrationError, match="NNNN_lower_snake"):
        load_migrations(tmp_path)


@pytest.mark.slow
def test_start_up_stops_when_the_database_has_an_edited_migration(empty_database, session_database):
    url, engine = empty_database
    migrate(engine)
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE schema_migrations SET checksum = 'edited' WHERE version = '0001'")
        )
    use_database(url)
    try:
        with pytest.raises(MigrationError, match="changed after it was applied"):
            get_engine()
    finally:
        use_database(session_database)

    cli = fleet_migrate(url)
    assert cli.returncode == 1
    assert "changed after it was applied" in cli.stderr


@pytest.mark.slow
def test_eight_instances_starting_at_once_apply_each_migration_once(empty_database):
    url, engine = empty_database
    starts = [
        subprocess.Popen(
            [sys.executable, "-c", "from shared.db.instance import get_engine; get_engine()"],
            cwd=PROJECT_ROOT,
            env=child_env(url),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    outcomes = [(p.wait(timeout=120), p.communicate()[1]) for p in starts]
    assert [code for code, _ in outcomes] == [0] * 8, [err for _, err in outcomes]
    assert sorted(row[1] for row in recorded(engine)) == sorted(map(shipped_name, SHIPPED))
    assert {"driver_targets", "driver_performance_history"} <= public_tables(engine)


@pytest.mark.slow
def test_by_hand_it_prints_what_it_applied_then_nothing(empty_database):
    url, _ = empty_database

    def run():
        done = fleet_migrate(url)
        assert done.returncode == 0, done.stderr
        return done.stdout

    first = run()
    assert first.startswith("applied: ")
    assert all(shipped_name(path) in first for path in SHIPPED)
    assert "nothing to apply" in run()


def test_migrate_on_start_false_leaves_the_database_alone(databases, session_database):
    url = databases.create()
    use_database(url, MIGRATE_ON_START="false")
    try:
        engine = get_engine()
        assert public_tables(engine) == set()
    finally:
        use_database(session_database, MIGRATE_ON_START="true")
