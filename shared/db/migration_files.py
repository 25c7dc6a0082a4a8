"""The migration files shipped with the code, in the order they are applied.

Versioned files, migrations/NNNN_lower_snake.sql, run once each in number order: tables, columns,
indexes, constraints, and the functions a stored column depends on (replacing one would leave
stored values computed by the old code).

Repeatable files, migrations/repeatable/<area>.sql, hold one area's functions and triggers, each
written so that running it again replaces them (CREATE OR REPLACE): the one copy of that code.
They run after the versioned files. A file names the areas it builds on in a line
`-- requires: business_days, clock`; each file runs after the files it requires, otherwise in
name order, so the order is the same on every run and a file may call what its requirements
define (a SQL function's RETURN body is checked when it is created).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from shared.errors import MigrationError

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
REPEATABLE_SUBDIR = "repeatable"
# schema_migrations.version of a repeatable file: never a number, so never a versioned file's.
REPEATABLE_PREFIX = "R:"
_VERSIONED_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_REPEATABLE_NAME = re.compile(r"^([a-z][a-z0-9_]*)\.sql$")
_REQUIRES = re.compile(r"^-- requires:(.*)$", re.MULTILINE)


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str
    # Areas (repeatable files) this one runs after; always empty for a versioned file.
    requires: tuple[str, ...] = ()

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    @property
    def repeatable(self) -> bool:
        return self.version.startswith(REPEATABLE_PREFIX)

    @property
    def area(self) -> str:
        return self.version.removeprefix(REPEATABLE_PREFIX)


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The versioned files of `directory` in number order, then its repeatable/ files."""
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        match = _VERSIONED_NAME.match(path.name)
        if match is None:
            raise MigrationError(f"{path.name}: migration files are named NNNN_lower_snake.sql")
        migrations.append(Migration(match.group(1), path.name, path.read_text(encoding="utf-8")))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migration files share a number in {directory}")
    return migrations + _load_repeatable(directory / REPEATABLE_SUBDIR)


def _load_repeatable(directory: Path) -> list[Migration]:
    by_area = {}
    for path in sorted(directory.glob("*.sql")):
        match = _REPEATABLE_NAME.match(path.name)
        if match is None:
            raise MigrationError(f"{path.name}: repeatable files are named lower_snake.sql")
        sql = path.read_text(encoding="utf-8")
        requires = _REQUIRES.search(sql)
        names = requires.group(1).split(",") if requires else []
        by_area[match.group(1)] = Migration(
            REPEATABLE_PREFIX + match.group(1),
            f"{REPEATABLE_SUBDIR}/{path.name}",
            sql,
            tuple(name.strip() for name in names if name.strip()),
        )
    return _in_dependency_order(by_area)


def _in_dependency_order(by_area: dict[str, Migration]) -> list[Migration]:
    """Depth first in name order: each file after what it requires, the rest by name."""
    ordered: list[Migration] = []

    def place(area: str, chain: tuple[str, ...]) -> None:
        if any(m.area == area for m in ordered):
            return
        if area in chain:
            raise MigrationError(
                "repeatable files require each other: " + " -> ".join((*chain, area))
            )
        migration = by_area[area]
        for required in sorted(migration.requires):
            if required not in by_area:
                raise MigrationError(f"{migration.name} requires {required}, which is not shipped")
            place(required, (*chain, area))
        ordered.append(migration)

    for area in sorted(by_area):
        place(area, ())
    return ordered
