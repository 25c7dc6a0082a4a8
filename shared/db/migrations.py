"""Applies migrations/ in one transaction under a PostgreSQL advisory lock.

Every instance calls this on cold start; the transaction-scoped advisory lock makes concurrent
starts wait for the first one, which applies what is pending. Versioned files run once each, in
number order; then the repeatable files (the functions and triggers, one file per area, see
shared/db/migration_files.py) run, each when it is new or its checksum changed, and with it every
file that requires it, so what builds on a replaced area is replaced after it.

schema_migrations records each file's checksum (a repeatable one under version `R:<area>`). An
applied versioned file that changed or disappeared stops start-up, because the database no longer
matches the code; so does a repeatable file that disappeared (its functions would stay behind).
To retire an area, a versioned migration drops its objects and deletes its `R:` row: versioned
files run first, so the check sees the row gone.

The move to repeatable files: until commit 9424572, 0001-0004 held the functions and triggers
themselves (record_progress written out four times). Databases that applied those files keep
their checksums; _MOVED_OUT pins, for each, the checksum it had and the one its slimmed file has.
A database that recorded the old one while exactly the new one is shipped takes the new checksum,
and the same transaction applies every repeatable file (such a database has none recorded yet),
which replaces each function and trigger with its one live copy; 0006 drops the two functions
that no longer exist. Such a database ends with the schema of one migrated from empty
(tests/test_migration_move.py compares both with pg_dump). Any other edit is refused as before.

Run by hand before a deploy: `fleet migrate`.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from shared.db.migration_files import (
    MIGRATIONS_DIR,
    REPEATABLE_PREFIX,
    Migration,
    load_migrations,
)
from shared.errors import MigrationError

__all__ = [
    "ADVISORY_LOCK_KEY",
    "MIGRATIONS_DIR",
    "Migration",
    "load_migrations",
    "migrate",
    "status",
]

# Any constant works as long as nothing else in the database uses it: "fleet-targets" as ASCII.
ADVISORY_LOCK_KEY = 0x666C656574

# version: (checksum applied before the move, checksum of the file shipped since).
_MOVED_OUT = {
    "0001": (
        "7f7bab061f8ba2fd96bf2aada0b3b8644df67d6608431f177e37784d5f5f7e56",
        "c5e8592ef07b5764b3c784b30400eb4c2cdb89d83fe7f6de90699c31cfbcecbc",
    ),
    "0002": (
        "416f5054b4f251d50da3570d549f4aff067e79547dc405bfc6b3a44045542a45",
        "d7fc6bcf4978c6cf286a9a29677d2432ede04e297f5508aef080797319a8cead",
    ),
    "0003": (
        "552db02e1e7118f0be93eabd1765d909bf25770514fc90df260bf512ba1a8898",
        "bffdf09ef8892671fc5f59ea91040e2586540b99eba6b67fcdd595c2029ea9fa",
    ),
    "0004": (
        "28effd1d87481d7b67f904a28a774b24059b729ef4d5bb6f59f372e6d784c393",
        "00f22f6daf316d849579f519a3664e7c65550c644c4ff63fd122de74b01acf1a",
    ),
}


@dataclass(frozen=True)
class _Applied:
    name: str
    checksum: str
    applied_at: str


def _ensure_table(conn: Connection) -> None:
    conn.execute(
        sa.text(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version TEXT PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL,"
            " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
    )


def _applied(conn: Connection) -> dict[str, _Applied]:
    rows = conn.execute(
        sa.text("SELECT version, name, checksum, applied_at FROM schema_migrations")
    )
    return {
        row.version: _Applied(row.name, row.checksum, f"{row.applied_at:%Y-%m-%d %H:%M:%S%z}")
        for row in rows
    }


def _moved_out(migration: Migration, recorded: _Applied) -> bool:
    """Whether the file was applied before the move and is shipped exactly as slimmed since."""
    return _MOVED_OUT.get(migration.version) == (recorded.checksum, migration.checksum)


def _check_present(
    applied: dict[str, _Applied], migrations: list[Migration], repeatable: bool
) -> None:
    shipped = {m.version for m in migrations}
    for version, recorded in sorted(applied.items()):
        if version.startswith(REPEATABLE_PREFIX) == repeatable and version not in shipped:
            raise MigrationError(
                f"migration {recorded.name} is applied in the database but missing from "
                f"{MIGRATIONS_DIR.name}/: deploy code that contains it"
            )


def _check_unchanged(applied: dict[str, _Applied], versioned: list[Migration]) -> None:
    for migration in versioned:
        recorded = applied.get(migration.version)
        if recorded is None or recorded.checksum == migration.checksum:
            continue
        if not _moved_out(migration, recorded):
            raise MigrationError(
                f"migration {migration.name} changed after it was applied "
                "(checksums differ): applied migrations are never edited, add a new file"
            )


def _record(conn: Connection, migration: Migration) -> None:
    conn.execute(
        sa.text(
            "INSERT INTO schema_migrations (version, name, checksum)"
            " VALUES (:version, :name, :checksum)"
            " ON CONFLICT (version) DO UPDATE"
            " SET name = excluded.name, checksum = excluded.checksum, applied_at = now()"
        ),
        {"version": migration.version, "name": migration.name, "checksum": migration.checksum},
    )


def _run(conn: Connection, migration: Migration) -> None:
    # Whole files go through the simple query protocol, which accepts many statements.
    conn.exec_driver_sql(migration.sql)
    _record(conn, migration)


def migrate(engine: Engine, migrations: list[Migration] | None = None) -> list[str]:
    """Applies what is pending in one transaction; returns the names applied (maybe none)."""
    migrations = load_migrations() if migrations is None else migrations
    versioned = [m for m in migrations if not m.repeatable]
    repeatable = [m for m in migrations if m.repeatable]
    with engine.begin() as conn:
        # SET LOCAL of both, in one round trip (every cold start runs this). A migration may
        # read a whole table (an index build): not bound by the 30 s meant for requests.
        # lock_timeout still bounds every wait, the advisory lock's included.
        conn.execute(
            sa.text(
                "SELECT set_config('lock_timeout', '60s', true),"
                " set_config('statement_timeout', '0', true)"
            )
        )
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
        _ensure_table(conn)
        applied = _applied(conn)
        _check_present(applied, versioned, repeatable=False)
        _check_unchanged(applied, versioned)
        done = []
        for migration in versioned:
            recorded = applied.get(migration.version)
            if recorded is None:
                _run(conn, migration)
                done.append(migration.name)
            elif recorded.checksum != migration.checksum:
                # Only a file slimmed by the move gets here (_check_unchanged): its tables stay
                # as applied then (so does applied_at), its functions are replaced below.
                conn.execute(
                    sa.text("UPDATE schema_migrations SET checksum = :checksum WHERE version = :v"),
                    {"checksum": migration.checksum, "v": migration.version},
                )
        if done:
            # Read again: a versioned file that retired an area has deleted its row.
            applied = _applied(conn)
        _check_present(applied, repeatable, repeatable=True)
        replaced: set[str] = set()
        for migration in repeatable:
            recorded = applied.get(migration.version)
            changed = recorded is None or recorded.checksum != migration.checksum
            if changed or replaced.intersection(migration.requires):
                _run(conn, migration)
                replaced.add(migration.area)
                done.append(migration.name)
    return done


def _state(migration: Migration, recorded: _Applied | None) -> str:
    if recorded is None:
        return "pending"
    if migration.repeatable and recorded.checksum != migration.checksum:
        return f"pending: changed since it was applied {recorded.applied_at}"
    return f"applied {recorded.applied_at}"


def status(engine: Engine) -> list[tuple[str, str]]:
    """Each shipped file with 'applied <time>', or 'pending' and why."""
    with engine.connect() as conn:
        exists = conn.execute(
            sa.text("SELECT to_regclass('schema_migrations') IS NOT NULL")
        ).scalar()
        applied = _applied(conn) if exists else {}
    return [(m.name, _state(m, applied.get(m.version))) for m in load_migrations()]
