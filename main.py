"""What Cloud Functions imports: every entry point, each deployed as its own function.

An instance serves one function, so an entry point's module is imported when it is first asked
for (PEP 562): a cold start imports what its function needs, not the other seven.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from functions.deliver_webhooks import deliver_webhooks
    from functions.get_history import get_history
    from functions.get_targets import get_targets
    from functions.manage_webhooks import manage_webhooks
    from functions.set_targets import set_targets
    from functions.snapshot_daily import snapshot_daily
    from functions.top_performers import top_performers
    from functions.update_progress import update_progress

__all__ = [
    "deliver_webhooks",
    "get_history",
    "get_targets",
    "manage_webhooks",
    "set_targets",
    "snapshot_daily",
    "top_performers",
    "update_progress",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module(f"functions.{name}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
