"""Applies migrations/*.sql in order, once, under a PostgreSQL advisory lock.

Every instance calls this on cold start; the transaction-scoped advisory lock makes concurrent
starts wait for the first one, which applies what is pending, so each file runs exactly once.
schema_migrations records each file's checksum: an applied file that changed or disappeared
stops start-up, because the database no longer matches the code.

Run by hand before a deploy: `fleet migrate`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from shared.errors import MigrationError

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
# Any constant works as long as nothing else in the database uses it: "fleet-targets" as ASCII.
ADVISORY_LOCK_KEY = 0x666C656574
_FILE_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if match is None:
            raise MigrationError(f"{path.name}: migration files are named NNNN_lower_snake.sql")
        migrations.append(Migration(match.group(1), path.name, path.read_text(encoding="utf-8")))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migration files share a number in {directory}")
    return migrations


def _ensure_table(conn: Connection) -> None:
    conn.execute(
        sa.text(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version TEXT PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL,"
            " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
    )


def _check_applied(applied: dict[str, tuple[str, str]], migrations: list[Migration]) -> None:
    by_version = {m.version: m for m in migrations}
    for version, (name, checksum) in sorted(applied.items()):
        migration = by_version.get(version)
        if migration is None:
            raise MigrationError(
                f"migration {name} is applied in the database but missing from "
                f"{MIGRATIONS_DIR.name}/: deploy code that contains it"
            )
        if migration.checksum != checksum:
            raise MigrationError(
                f"migration {migration.name} changed after it was applied "
                "(checksums differ): applied migrations are never edited, add a new file"
            )


def migrate(engine: Engine, migrations: list[Migration] | None = None) -> list[str]:
    """Applies pending migrations in one transaction; returns the names applied (maybe none)."""
    migrations = load_migrations() if migrations is None else migrations
    with engine.begin() as conn:
        conn.execute(sa.text("SET LOCAL lock_timeout = '60s'"))
        # A migration may read a whole table (an index build): not bound by the 30 s meant for
        # requests. lock_timeout still bounds every wait, the advisory lock's included.
        conn.execute(sa.text("SET LOCAL statement_timeout = 0"))
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
        _ensure_table(conn)
        rows = conn.execute(sa.text("SELECT version, name, checksum FROM schema_migrations"))
        applied = {row.version: (row.name, row.checksum) for row in rows}
        _check_applied(applied, migrations)
        done = []
        for migration in migrations:
            if migration.version in applied:
                continue
            # Whole files go through the simple query protocol, which accepts many statements.
            conn.exec_driver_sql(migration.sql)
            conn.execute(
                sa.text(
                    "INSERT INTO schema_migrations (version, name, checksum)"
                    " VALUES (:version, :name, :checksum)"
                ),
                {
                    "version": migration.version,
                    "name": migration.name,
                    "checksum": migration.checksum,
                },
            )
            done.append(migration.name)
    return done


def status(engine: Engine) -> list[tuple[str, str]]:
    """Each shipped migration with 'applied at <time>' or 'pending'."""
    with engine.connect() as conn:
        exists = conn.execute(
            sa.text("SELECT to_regclass('schema_migrations') IS NOT NULL")
        ).scalar()
        applied: dict[str, str] = {}
        if exists:
            rows = conn.execute(sa.text("SELECT version, applied_at FROM schema_migrations"))
            applied = {row.version: f"applied {row.applied_at:%Y-%m-%d %H:%M:%S%z}" for row in rows}
    return [(m.name, applied.get(m.version, "pending")) for m in load_migrations()]
