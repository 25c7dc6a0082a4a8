"""What Cloud Functions imports: every entry point in shared.registry, each deployed as its own
function.

An instance serves one function, so an entry point's module is imported when it is first asked
for (PEP 562): a cold start imports what its function needs, not the other seven.
"""

from __future__ import annotations

import gc
import importlib
from typing import Any

from shared import registry

__all__ = list(registry.NAMES)


def __getattr__(name: str) -> Any:
    if name in registry.NAMES:
        entry = getattr(importlib.import_module(registry.function(name).module), name)
        # What the import built (modules, SQLAlchemy's and pydantic's tables) lives as long as
        # the instance: out of the cyclic collector's passes, which a 10,000-item batch triggers.
        gc.freeze()
        return entry
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
