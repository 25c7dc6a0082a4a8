"""`fleet`, the ops CLI, run as a process against a database of its own."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from shared.db import migrations
from shared.db.engine import build_engine
from shared.fleet.targets import operations as targets
from shared.fleet.targets.requests import DriverTarget
from shared.settings import Settings
from tests.helpers import PROJECT_ROOT, Databases, child_env, new_driver_id, unreachable_url

pytestmark = pytest.mark.slow

MIGRATIONS = [m.name for m in migrations.load_migrations()]


def run_cli(*args: str, **env_vars: str) -> subprocess.CompletedProcess[str]:
    """`fleet` in a new process, with no database variable but those given."""
    return subprocess.run(
        [sys.executable, "-m", "ops.cli", *args],
        cwd=PROJECT_ROOT,
        env=child_env(**env_vars),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def fleet(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, DATABASE_URL=database_url, FLEET_TIMEZONE="UTC")


@pytest.fixture
def cli_database(databases: Databases) -> str:
    return databases.create()


def test_migrate_applies_then_has_nothing_to_apply(cli_database: str) -> None:
    first = fleet(cli_database, "migrate")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "applied: " + ", ".join(MIGRATIONS)

    again = fleet(cli_database, "migrate")
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == "nothing to apply: schema is current"


def test_migrate_status_lists_pending_then_applied(cli_database: str) -> None:
    pending = fleet(cli_database, "migrate", "--status")
    assert pending.returncode == 0, pending.stderr
    assert pending.stdout.splitlines() == [f"{name}: pending" for name in MIGRATIONS]

    assert fleet(cli_database, "migrate").returncode == 0
    applied = fleet(cli_database, "migrate", "--status")
    assert applied.returncode == 0, applied.stderr
    lines = applied.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == MIGRATIONS
    assert all(line.split(": ", 1)[1].startswith("applied ") for line in lines)


def test_snapshot_closes_a_day_by_hand_and_prints_json(cli_database: str) -> None:
    bundle = build_engine(Settings(database_url=cli_database))
    try:
        migrations.migrate(bundle.engine)
        driver = DriverTarget(
            driver_id=new_driver_id(), target_deliveries=5, target_revenue=Decimal(1)
        )
        targets.set_targets(bundle.engine, [driver], timezone="UTC")
    finally:
        bundle.close()
    today = dt.datetime.now(dt.UTC).date().isoformat()

    closed = fleet(cli_database, "snapshot", "--date", today, "--no-reset")
    assert closed.returncode == 0, closed.stderr
    assert json.loads(closed.stdout) == {
        "date": today,
        "drivers_snapshotted": 1,
        "reset": False,
        "already_done": False,
        "pruned": {"progress_events": 0, "webhook_events": 0},
        "also_closed": [],
    }
    again = fleet(cli_database, "snapshot", "--date", today, "--no-reset")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["already_done"] is True


def test_snapshot_of_a_past_day_with_nothing_open(cli_database: str) -> None:
    result = fleet(cli_database, "snapshot", "--date", "2020-01-31", "--no-reset")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["date"] == "2020-01-31" and answer["drivers_snapshotted"] == 0


@pytest.mark.parametrize("date", ["2026-13-01", "yesterday", "31/01/2026"])
def test_a_bad_date_exits_2_with_a_clear_message(cli_database: str, date: str) -> None:
    result = fleet(cli_database, "snapshot", "--date", date)
    assert result.returncode == 2
    assert f"{date!r} is not a date (YYYY-MM-DD)" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


@pytest.mark.parametrize(
    ("args", "env_vars", "message"),
    [
        (("--workers", "0"), {}, "argument --workers: 0 is less than 1"),
        ((), {"WORKERS": "two"}, "argument --workers: 'two' is not a whole number"),
        ((), {"THREADS": "-1"}, "argument --threads: -1 is less than 1"),
    ],
)
def test_serve_refuses_bad_worker_and_thread_counts(
    args: tuple[str, ...], env_vars: dict[str, str], message: str
) -> None:
    result = run_cli("serve", *args, **env_vars)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_date_in_the_future_exits_2(cli_database: str) -> None:
    future = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=5)).isoformat()
    result = fleet(cli_database, "snapshot", "--date", future)
    assert result.returncode == 2
    assert "more than one day after today" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args", [("migrate",), ("migrate", "--status"), ("snapshot", "--date", "2020-01-31")]
)
def test_a_database_that_is_down_exits_1_without_a_stack_trace(args: tuple[str, ...]) -> None:
    result = fleet(unreachable_url(), *args)
    assert result.returncode == 1
    assert result.stderr.startswith("fleet: ")
    assert "database is unavailable" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_a_blank_database_variable_fails_instead_of_using_the_local_database(
    tmp_path: Path,
) -> None:
    result = run_cli("migrate", INSTANCE_CONNECTION_NAME="", FLEET_DATA_DIR=str(tmp_path / "fleet"))
    assert result.returncode == 2
    assert "INSTANCE_CONNECTION_NAME is set but empty" in result.stderr
    assert not (tmp_path / "fleet").exists()
