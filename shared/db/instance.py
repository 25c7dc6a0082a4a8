"""The instance's engine: one per process, built (and migrated) on first use, closed at exit."""

from __future__ import annotations

import atexit
import threading

from sqlalchemy.engine import Engine

from shared.db.engine import EngineBundle, build_engine
from shared.db.migrations import migrate
from shared.db.translate import translated_errors
from shared.settings import get_settings

_lock = threading.Lock()
_bundle: EngineBundle | None = None


def get_engine() -> Engine:
    """The process's engine; the first call builds it and applies pending migrations."""
    global _bundle
    if _bundle is None:
        with _lock:
            if _bundle is None:
                settings = get_settings()
                bundle = build_engine(settings)
                if settings.migrate_on_start:
                    try:
                        with translated_errors():
                            migrate(bundle.engine)
                    except BaseException:
                        bundle.close()
                        raise
                _bundle = bundle
    return _bundle.engine


def close_engine() -> None:
    """Closes the pool and the connector (shutdown, or tests switching databases)."""
    global _bundle
    with _lock:
        if _bundle is not None:
            _bundle.close()
            _bundle = None


# Shutdown: Cloud Run sends SIGTERM, functions-framework's gunicorn worker leaves its loop and
# exits normally, so the pool's connections and the connector's refresh are closed, not dropped.
atexit.register(close_engine)
