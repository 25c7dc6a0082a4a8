"""Imports that last as long as the process, done without the cyclic garbage collector.

An import creates tens of thousands of objects and frees almost none, yet every 700 allocations
start a collector pass: update_progress's import ran ~110 of them, which freed ~150 objects and
took ~15% of the import (~30 ms of each cold start here, bench: cold_start). What the import
built (modules, SQLAlchemy's and pydantic's tables) lives until the instance stops, so it is
then frozen: left out of every later pass, which a 10,000-item batch would otherwise trigger.
Used for what a cold start imports: a function's module (main.py) and the Cloud SQL connector
(shared.db.engine). Standard library only: main.py uses it before anything else is imported.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def lasting_import() -> Iterator[None]:
    """The collector is off in the block; then every object alive is frozen, before the
    collector is back as it was (off stays off), so no pass walks what the block built."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if collecting:
            gc.enable()
