"""get_history's reply (see shared.web.replies)."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from shared.fleet import replies as kinds
from shared.web.replies import ReplyModel


# The fields in the order of _HISTORY's columns: the CSV columns.
class HistoryDay(ReplyModel):
    """One closed day of a driver."""

    date: dt.date
    team: kinds.TeamText | None = Field(description="The team the driver had that day.")
    deliveries_completed: kinds.Count
    revenue_generated: kinds.Amount
    target_deliveries: kinds.Count
    target_revenue: kinds.Amount
    achievement_percentage: kinds.Percentage
    target_achieved: bool
    active_minutes: kinds.ActiveMinutes
    deliveries_per_active_hour: kinds.PerActiveHour


class HistoryReply(ReplyModel):
    driver_id: kinds.DriverIdText
    days: kinds.WindowDays | None = Field(
        description="As asked; null when the window was given by `from` and `to`."
    )
    # `from` is a keyword: the JSON name is the alias.
    from_: dt.date = Field(alias="from")
    to: dt.date
    history: list[HistoryDay]
