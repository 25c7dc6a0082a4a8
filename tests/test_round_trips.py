"""The engine's round trips: one for a progress event on a busy connection, and no state left
behind by the shortcuts that save them (autocommit, the skipped ping, prepared statements)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pg8000.dbapi
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from shared.db.engine import build_engine
from shared.db.pg8000_speedups import PREPARED, FleetConnection
from shared.db.transactions import single_statement, transaction
from shared.errors import DatabaseUnavailable
from shared.fleet.progress.operations import record_progress
from shared.fleet.progress.requests import ProgressEvent
from shared.fleet.targets import operations as targets
from shared.fleet.targets.export import export_drivers_csv
from shared.fleet.targets.requests import DriverTarget
from shared.settings import get_settings


class RoundTrips:
    """Counts the replies the server sends: one per round trip."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        original = FleetConnection.handle_messages

        def counting(conn: FleetConnection, context: Any) -> None:
            self.count += 1
            original(conn, context)

        monkeypatch.setattr(FleetConnection, "handle_messages", counting)

    def during(self, work: Any) -> int:
        before = self.count
        work()
        return self.count - before


def engine_with(ping_after_idle: float) -> Engine:
    settings = get_settings().model_copy(update={"db_ping_after_idle_seconds": ping_after_idle})
    return build_engine(settings).engine


@pytest.fixture
def driver(engine: Engine) -> str:
    driver_id = f"drv-{uuid.uuid4().hex[:10]}"
    targets.set_targets(engine, [DriverTarget(driver_id=driver_id)], timezone="UTC")
    return driver_id


@pytest.fixture
def busy_engine(engine: Engine) -> Iterator[Engine]:
    """Trusts any connection heard from within the last minute: the pings are skipped."""
    own = engine_with(60.0)
    yield own
    own.dispose()


@pytest.fixture
def pinging_engine(engine: Engine) -> Iterator[Engine]:
    """Pings on every checkout: each connection counts as idle."""
    own = engine_with(0.0)
    yield own
    own.dispose()


def one_event(engine: Engine, driver_id: str) -> None:
    event = ProgressEvent(driver_id=driver_id, deliveries=1, event_id=uuid.uuid4().hex)
    record_progress(engine, [event], timezone="UTC", late_days=7)


def deliveries_seen_elsewhere(engine: Engine, driver_id: str) -> int:
    with engine.connect() as conn:
        value: int = conn.execute(
            sa.text("SELECT current_deliveries FROM driver_days WHERE driver_id = :d"),
            {"d": driver_id},
        ).scalar_one()
        return value


def test_progress_event_on_a_busy_connection_is_one_round_trip(
    busy_engine: Engine, engine: Engine, driver: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    trips = RoundTrips(monkeypatch)
    one_event(busy_engine, driver)  # connects, and prepares the statement
    assert trips.during(lambda: one_event(busy_engine, driver)) == 1
    assert trips.during(lambda: one_event(busy_engine, driver)) == 1
    # Committed: another connection sees all three.
    assert deliveries_seen_elsewhere(engine, driver) == 3


def test_idle_connection_is_pinged_and_its_begin_committed_before_autocommit(
    pinging_engine: Engine, engine: Engine, driver: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    trips = RoundTrips(monkeypatch)
    one_event(pinging_engine, driver)
    # The ping's BEGIN, its COMMIT on the switch to autocommit, the prepared statement.
    assert trips.during(lambda: one_event(pinging_engine, driver)) == 3
    assert deliveries_seen_elsewhere(engine, driver) == 2
    with pinging_engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        assert raw.autocommit is False


def test_a_connection_broken_after_its_ping_is_a_503_and_is_replaced(
    pinging_engine: Engine, engine: Engine, driver: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    one_event(pinging_engine, driver)
    execute_simple = FleetConnection.execute_simple

    def commit_fails(conn: FleetConnection, statement: str) -> Any:
        if statement == "commit":
            raise pg8000.dbapi.InterfaceError("network error")
        return execute_simple(conn, statement)

    # The ping's BEGIN goes through; its COMMIT, on the switch to autocommit, does not.
    monkeypatch.setattr(FleetConnection, "execute_simple", commit_fails)
    with pytest.raises(DatabaseUnavailable):
        one_event(pinging_engine, driver)
    monkeypatch.setattr(FleetConnection, "execute_simple", execute_simple)
    one_event(pinging_engine, driver)
    assert deliveries_seen_elsewhere(engine, driver) == 2


@pytest.mark.parametrize("ping_after_idle", [0.0, 60.0])
def test_a_transaction_after_an_autocommitted_event_still_rolls_back(
    ping_after_idle: float, engine: Engine, driver: str
) -> None:
    own = engine_with(ping_after_idle)
    try:
        one_event(own, driver)
        with pytest.raises(RuntimeError), transaction(own) as conn:
            conn.execute(
                sa.text("UPDATE driver_targets SET team = 'rolled-back' WHERE driver_id = :d"),
                {"d": driver},
            )
            raise RuntimeError("abort")
        with own.connect() as conn:
            team = conn.execute(
                sa.text("SELECT team FROM driver_targets WHERE driver_id = :d"), {"d": driver}
            ).scalar_one()
        assert team is None
    finally:
        own.dispose()


def test_session_isolation_level_is_restored_after_a_repeatable_read_export(
    busy_engine: Engine, driver: str
) -> None:
    assert list(export_drivers_csv(busy_engine, timezone="UTC", status=None, team=None))
    # Every pooled connection at once, the export's among them.
    held = [busy_engine.connect() for _ in range(busy_engine.pool.size())]  # type: ignore[attr-defined]
    try:
        for conn in held:
            level = conn.exec_driver_sql("SHOW transaction_isolation").scalar_one()
            assert level == "read committed"
    finally:
        for conn in held:
            conn.close()


@pytest.fixture
def changing_table(engine: Engine) -> Iterator[str]:
    name = f"prepared_{uuid.uuid4().hex[:10]}"
    with transaction(engine) as conn:
        conn.exec_driver_sql(f"CREATE TABLE {name} (a integer)")
        conn.exec_driver_sql(f"INSERT INTO {name} VALUES (1)")
    yield name
    with transaction(engine) as conn:
        conn.exec_driver_sql(f"DROP TABLE {name}")


def test_a_prepared_statement_follows_a_change_to_what_it_returns(
    busy_engine: Engine, engine: Engine, changing_table: str
) -> None:
    query = sa.text(f"SELECT * FROM {changing_table} WHERE a = :a").execution_options(**PREPARED)
    with single_statement(busy_engine) as conn:
        assert conn.execute(query, {"a": 1}).all() == [(1,)]
    with transaction(engine) as conn:
        conn.exec_driver_sql(f"ALTER TABLE {changing_table} ADD COLUMN b integer DEFAULT 2")
    # PostgreSQL refuses the old plan ("cached plan must not change result type"); in
    # autocommit the statement is prepared again and run at once.
    with single_statement(busy_engine) as conn:
        assert conn.execute(query, {"a": 1}).all() == [(1, 2)]
    with transaction(engine) as conn:
        conn.exec_driver_sql(f"ALTER TABLE {changing_table} ADD COLUMN c integer DEFAULT 3")
    # Inside a transaction the refusal fails it (503: retry); the next use prepares afresh.
    with pytest.raises(DatabaseUnavailable), transaction(busy_engine) as conn:
        conn.execute(query, {"a": 1})
    with transaction(busy_engine) as conn:
        assert conn.execute(query, {"a": 1}).all() == [(1, 2, 3)]
