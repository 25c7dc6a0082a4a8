"""Connection parameters for pg8000 on the local path: a URL or the DB_* variables, TLS verified."""

from __future__ import annotations

import ssl
from typing import Any

from sqlalchemy.engine import make_url

from shared.settings import Settings


def _tls(enabled: bool) -> ssl.SSLContext | bool:
    """pg8000's `ssl_context`: verified TLS, or none at all. Its default (None) tries TLS with no
    certificate check, the earlier service's defect, so it is never left to the default."""
    return ssl.create_default_context() if enabled else False


def pg8000_params_from_url(url: str) -> dict[str, Any]:
    """pg8000 keyword arguments for a libpq-style URL (a `?host=/dir` names a Unix socket dir)."""
    parsed = make_url(url)
    params: dict[str, Any] = {
        "user": parsed.username or "postgres",
        "database": parsed.database or "postgres",
    }
    if parsed.password:
        params["password"] = parsed.password
    socket_dir = parsed.query.get("host")
    if isinstance(socket_dir, str) and socket_dir.startswith("/"):
        params["unix_sock"] = f"{socket_dir}/.s.PGSQL.{parsed.port or 5432}"
    else:
        params["host"] = parsed.host or "localhost"
        params["port"] = parsed.port or 5432
    # Any sslmode that asks for TLS gets it verified (certificate and host name).
    params["ssl_context"] = _tls(
        parsed.query.get("sslmode") in {"require", "verify-ca", "verify-full"}
    )
    return params


def local_params(settings: Settings) -> dict[str, Any]:
    if settings.database_url is not None:
        return pg8000_params_from_url(settings.database_url.get_secret_value())
    params: dict[str, Any] = {
        "host": settings.db_host,
        "port": settings.db_port,
        "database": settings.db_name,
        "user": settings.db_user,
    }
    if settings.db_pass is not None:
        params["password"] = settings.db_pass.get_secret_value()
    # Verified TLS: the earlier service turned verification off (rejectUnauthorized: false).
    params["ssl_context"] = _tls(settings.db_ssl)
    return params
