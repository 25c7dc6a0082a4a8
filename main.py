"""What Cloud Functions imports: every entry point in shared.registry, each deployed as its own
function.

An instance serves one function, so an entry point's module is imported when it is first asked
for (PEP 562): a cold start imports what its function needs, not the other seven.
"""

from __future__ import annotations

import importlib
from typing import Any

from shared import registry
from shared.imports import lasting_import

__all__ = list(registry.NAMES)


def __getattr__(name: str) -> Any:
    if name in registry.NAMES:
        with lasting_import():
            return getattr(importlib.import_module(registry.function(name).module), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
