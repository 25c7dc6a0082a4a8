"""snapshot_daily's reply (see shared.web.replies)."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from shared.fleet.replies import Count
from shared.web.replies import ReplyModel


class Pruned(ReplyModel):
    """Rows deleted after the day was closed: progress events received more than
    EVENT_RETENTION_DAYS ago, and webhook events (with their deliveries) written more than
    WEBHOOK_RETENTION_DAYS ago that have no pending delivery."""

    progress_events: Count
    webhook_events: Count
    carried_over: bool = Field(
        default=False,
        description="Present (true) when the run's pruning time ran out first: what is left"
        " is pruned by the next run.",
    )


class SnapshotReply(ReplyModel):
    date: dt.date
    drivers_snapshotted: Count
    reset: bool
    already_done: bool = Field(
        description="The day was closed by an earlier run; nothing was written."
    )
    also_closed: list[dt.date] = Field(
        description="Days still open before `date` (never today or later) that this run closed"
        " first, oldest first, each on its own and without a reset: a past day an event opened"
        " late, or one whose nightly run never came."
    )
    pruned: Pruned
