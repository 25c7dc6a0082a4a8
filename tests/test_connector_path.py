"""The Cloud SQL connector path, with only the connector (the Google API boundary) faked.

The fake's connect() records its arguments and hands back a real pg8000 connection to the test
database, so migrations and the operations run for real through the engine the cloud uses.
"""

from __future__ import annotations

import inspect
import subprocess
import sys
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import pg8000.dbapi
import pytest
from pydantic import SecretStr
from sqlalchemy.engine import make_url

from shared.db import migrations
from shared.db.connect import pg8000_params_from_url
from shared.db.engine import build_engine
from shared.db.instance import close_engine, get_engine
from shared.db.pg8000_speedups import FleetConnection
from shared.db.transactions import transaction
from shared.fleet.progress import operations as progress
from shared.fleet.progress.requests import ProgressEvent
from shared.fleet.targets import operations as targets
from shared.fleet.targets.requests import DriverTarget
from shared.settings import Settings, get_settings
from tests.helpers import Databases

INSTANCE = "acme-fleet:europe-west1:fleet-db"
PASSWORD = "not-a-real-password"


class FakeConnector:
    """Stands in for google.cloud.sql.connector.Connector: same constructor and connect()."""

    made: ClassVar[list[FakeConnector]] = []

    def __init__(self, database_url: str, **kwargs: Any) -> None:
        self.database_url = database_url
        self.kwargs = kwargs
        self.connects: list[tuple[str, str, dict[str, Any]]] = []
        self.closed = False
        FakeConnector.made.append(self)

    def connect(self, instance: str, driver: str, **kwargs: Any) -> pg8000.dbapi.Connection:
        assert not self.closed, "connect() after close()"
        self.connects.append((instance, driver, kwargs))
        params = pg8000_params_from_url(self.database_url)
        # The database and user the engine asked for; the test server's own password, if any.
        params.update(database=kwargs["db"], user=kwargs["user"])
        return pg8000.dbapi.connect(**params)

    def close(self) -> None:
        self.closed = True


def factory_for(database_url: str) -> Any:
    def factory(**kwargs: Any) -> FakeConnector:
        return FakeConnector(database_url, **kwargs)

    return factory


def cloud_settings(database_url: str, **overrides: Any) -> Settings:
    url = make_url(database_url)
    values: dict[str, Any] = {
        "instance_connection_name": INSTANCE,
        "db_user": url.username or "postgres",
        "db_name": url.database,
        "db_pass": SecretStr(PASSWORD),
        **overrides,
    }
    return Settings(**values)


@pytest.fixture
def cloud_database(databases: Databases) -> str:
    return databases.create()


def _run_a_function_operation(engine: Any) -> dict[str, Any]:
    driver_id = f"drv-{uuid.uuid4().hex[:10]}"
    target = DriverTarget(driver_id=driver_id, target_deliveries=12, target_revenue=Decimal(900))
    assert targets.set_targets(engine, [target], timezone="UTC") == 1
    # The hot path too: a prepared statement in autocommit, on the connector's connection.
    event = ProgressEvent(driver_id=driver_id, deliveries=3, event_id=uuid.uuid4().hex)
    (result,) = progress.record_progress(engine, [event], timezone="UTC", late_days=7)
    assert result["current_deliveries"] == 3
    with engine.connect() as conn:
        assert type(conn.connection.dbapi_connection) is FleetConnection
    return targets.get_driver(engine, driver_id, timezone="UTC")


def test_migrations_and_operations_run_through_the_connector(cloud_database: str) -> None:
    bundle = build_engine(cloud_settings(cloud_database), factory_for(cloud_database))
    connector = bundle.connector
    assert isinstance(connector, FakeConnector)
    try:
        applied = migrations.migrate(bundle.engine)
        assert applied == [m.name for m in migrations.load_migrations()]
        driver = _run_a_function_operation(bundle.engine)
        assert driver["target_deliveries"] == 12
        assert driver["status"] == "available"
    finally:
        bundle.close()

    # One connector for the engine, lazy refresh (serverless), the settings' ip type, no IAM.
    assert connector.kwargs == {
        "ip_type": "PUBLIC",
        "enable_iam_auth": False,
        "refresh_strategy": "lazy",
    }
    assert connector.connects, "no connection came from the connector"
    for instance, driver, kwargs in connector.connects:
        assert instance == INSTANCE
        assert driver == "pg8000"
        assert kwargs == {
            "user": make_url(cloud_database).username or "postgres",
            "db": make_url(cloud_database).database,
            "password": PASSWORD,
        }
    # Closing the bundle closes the connector too (shutdown).
    assert connector.closed


def test_iam_auth_sends_no_password(cloud_database: str) -> None:
    settings = cloud_settings(cloud_database, db_iam_auth=True)
    bundle = build_engine(settings, factory_for(cloud_database))
    connector = bundle.connector
    assert isinstance(connector, FakeConnector)
    try:
        migrations.migrate(bundle.engine)
        assert _run_a_function_operation(bundle.engine)["target_deliveries"] == 12
    finally:
        bundle.close()
    assert connector.kwargs["enable_iam_auth"] is True
    assert all("password" not in kwargs for _, _, kwargs in connector.connects)


@pytest.mark.parametrize("ip_type", ["PUBLIC", "PRIVATE", "PSC"])
def test_ip_type_comes_from_the_settings(cloud_database: str, ip_type: str) -> None:
    bundle = build_engine(
        cloud_settings(cloud_database, db_ip_type=ip_type), factory_for(cloud_database)
    )
    connector = bundle.connector
    assert isinstance(connector, FakeConnector)
    try:
        with transaction(bundle.engine) as conn:
            assert conn.exec_driver_sql("SELECT 1").scalar_one() == 1
    finally:
        bundle.close()
    assert connector.kwargs["ip_type"] == ip_type
    assert connector.kwargs["refresh_strategy"] == "lazy"


def test_the_real_connector_accepts_what_the_engine_passes() -> None:
    from google.cloud.sql.connector import Connector

    signature = inspect.signature(Connector)
    signature.bind(ip_type="PSC", enable_iam_auth=True, refresh_strategy="lazy")
    connect = inspect.signature(Connector.connect)
    connect.bind(None, INSTANCE, "pg8000", user="u", db="d", password="p")


def test_get_engine_uses_the_connector_when_an_instance_is_named(
    cloud_database: str, session_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import google.cloud.sql.connector as connector_module

    made_before = len(FakeConnector.made)
    url = make_url(cloud_database)
    # Only the Google boundary is replaced: shared.db's own default factory still runs.
    monkeypatch.setattr(
        connector_module, "Connector", lambda **kwargs: FakeConnector(cloud_database, **kwargs)
    )
    monkeypatch.setenv("INSTANCE_CONNECTION_NAME", INSTANCE)
    monkeypatch.setenv("DB_USER", url.username or "postgres")
    monkeypatch.setenv("DB_NAME", str(url.database))
    monkeypatch.setenv("DB_PASS", PASSWORD)
    monkeypatch.setenv("DB_IP_TYPE", "PRIVATE")
    monkeypatch.setenv("MIGRATE_ON_START", "true")
    close_engine()
    get_settings.cache_clear()
    try:
        # Nothing is built until the first use.
        assert len(FakeConnector.made) == made_before
        engine = get_engine()
        assert get_engine() is engine
        assert len(FakeConnector.made) == made_before + 1
        connector = FakeConnector.made[-1]
        # The cold-start migration went through the connector too.
        assert _run_a_function_operation(engine)["target_deliveries"] == 12
        assert connector.kwargs["ip_type"] == "PRIVATE"
        assert connector.kwargs["refresh_strategy"] == "lazy"
        assert {c[0] for c in connector.connects} == {INSTANCE}
        assert connector.connects[0][2]["password"] == PASSWORD
    finally:
        close_engine()
        get_settings.cache_clear()
    assert connector.closed


@pytest.mark.slow
def test_importing_main_does_not_import_the_connector(project_root: Path) -> None:
    probe = (
        "import sys, main\n"
        "assert 'google.cloud.sql.connector' not in sys.modules\n"
        "from shared.db import instance\n"
        "assert instance._bundle is None\n"
        "print('lazy')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=project_root,
        env={"INSTANCE_CONNECTION_NAME": INSTANCE, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "lazy"


@pytest.mark.slow
def test_the_connector_is_closed_when_the_process_exits(project_root: Path) -> None:
    probe = (
        "import google.cloud.sql.connector as boundary\n"
        "class Fake:\n"
        "    def __init__(self, **kwargs): pass\n"
        "    def connect(self, *args, **kwargs): raise AssertionError('no connection expected')\n"
        "    def close(self): print('connector closed', flush=True)\n"
        "boundary.Connector = Fake\n"
        "from shared.db.instance import get_engine\n"
        "get_engine()\n"
        "print('built', flush=True)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=project_root,
        env={
            "INSTANCE_CONNECTION_NAME": INSTANCE,
            "MIGRATE_ON_START": "false",
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["built", "connector", "closed"]
