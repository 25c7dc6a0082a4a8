"""What Cloud Functions imports: every entry point, each deployed as its own function."""

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
