"""Building the engine and its pool: the Cloud SQL connector in the cloud, a URL locally."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import Any, Protocol

import pg8000.dbapi
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine

from shared.db.connect import local_params
from shared.db.pg8000_speedups import (
    FewerRoundTripsDialect,
    FleetConnection,
    check_pg8000,
    rewrite_statements_once,
)
from shared.imports import lasting_import
from shared.settings import Settings


class ConnectorLike(Protocol):
    def connect(self, instance_connection_string: str, driver: str, **kwargs: Any) -> Any: ...

    def close(self) -> None: ...


ConnectorFactory = Callable[..., ConnectorLike]


def _default_connector_factory(**kwargs: Any) -> ConnectorLike:
    # Imported here: the connector pulls in google-auth and aiohttp, which local runs never need
    # and which would otherwise add to every cold start's import time. What other requests
    # hold at that moment is frozen with it: still freed when its last reference goes, only a
    # reference cycle among it stays until the instance stops.
    with lasting_import():
        from google.cloud.sql.connector import Connector

    connector: ConnectorLike = Connector(**kwargs)
    return connector


class EngineBundle:
    """An engine and the connector that feeds it (None locally), closed together."""

    def __init__(self, engine: Engine, connector: ConnectorLike | None) -> None:
        self.engine = engine
        self.connector = connector

    def close(self) -> None:
        self.engine.dispose()
        if self.connector is not None:
            self.connector.close()


def build_engine(
    settings: Settings, connector_factory: ConnectorFactory = _default_connector_factory
) -> EngineBundle:
    check_pg8000()
    rewrite_statements_once()
    connector: ConnectorLike | None = None
    creator: Callable[[], Any]
    if settings.instance_connection_name:
        connector = connector_factory(
            ip_type=settings.db_ip_type,
            enable_iam_auth=settings.db_iam_auth,
            # Background refresh stalls when Cloud Functions throttle the CPU between requests.
            refresh_strategy="lazy",
        )
        connect_kwargs: dict[str, Any] = {"user": settings.db_user, "db": settings.db_name}
        if not settings.db_iam_auth and settings.db_pass is not None:
            connect_kwargs["password"] = settings.db_pass.get_secret_value()
        instance = settings.instance_connection_name
        bound_connector = connector

        def creator() -> Any:
            return FleetConnection.adopt(
                bound_connector.connect(instance, "pg8000", **connect_kwargs)
            )

    else:
        params = local_params(settings)

        def creator() -> Any:
            try:
                return FleetConnection(**params)
            except ssl.SSLError as exc:
                # pg8000 lets a failed TLS handshake (say, an unverifiable certificate) escape
                # as-is; as a driver error it is a connection failure (503), not a bug (500).
                reason = getattr(exc, "verify_message", None) or exc.reason or "handshake failed"
                raise pg8000.dbapi.InterfaceError(f"TLS to the database failed: {reason}") from exc

    engine = sa.create_engine(
        "postgresql+fleet_pg8000://",
        creator=creator,
        # A handful per instance: functions-framework serves a few threads per instance, and
        # max instances x (pool_size + max_overflow) must fit the server's max_connections.
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,
        pool_recycle=settings.db_pool_recycle,
        # A connection killed while idle (restart, failover, idle limits) is replaced, not used.
        pool_pre_ping=True,
        # The most recently used connection first: under light load one connection stays busy
        # (no ping, its statements prepared) while the others idle until they are needed.
        pool_use_lifo=True,
    )
    assert isinstance(engine.dialect, FewerRoundTripsDialect)
    engine.dialect.ping_after_idle = settings.db_ping_after_idle_seconds
    _set_session_defaults(engine, settings)
    return EngineBundle(engine, connector)


def _set_session_defaults(engine: Engine, settings: Settings) -> None:
    # On the connector path pg8000's own timeout does not apply (the connector opens the socket),
    # so the bound on a stuck statement is set server-side.
    timeout_ms = settings.db_statement_timeout_ms

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("SELECT set_config('statement_timeout', %s, false)", (str(timeout_ms),))
        cursor.close()
        dbapi_connection.commit()
