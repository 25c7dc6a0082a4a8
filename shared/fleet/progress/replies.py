"""update_progress' replies (see shared.web.replies)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import Field

from shared.fleet.fields import Status
from shared.fleet.replies import Amount, Count, DriverIdText
from shared.web.replies import ReplyModel


class ProgressResult(ReplyModel):
    """One event's outcome: the day's totals after it (or as they stood, when replayed)."""

    driver_id: DriverIdText
    event_id: Annotated[str, Field(min_length=1, max_length=128)] | None
    replayed: bool
    business_date: dt.date
    day_closed: bool = Field(
        description="The event counted on a day already closed (its history row)."
    )
    current_deliveries: Count
    current_revenue: Amount
    status: Status


class ProgressBatchReply(ReplyModel):
    count: Annotated[int, Field(ge=1)]
    results: list[ProgressResult]
