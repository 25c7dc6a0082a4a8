"""get_history's reply (see shared.web.replies)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import Field

from shared.fleet import replies as kinds
from shared.fleet.fields import Status
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


Principal = Annotated[
    str | None,
    Field(
        description="Who made the write: a service account's email, or an end user's"
        " `issuer#subject`; null when written with AUTH_MODE=off or before writes were recorded."
    ),
]


# The fields in the order of the ledger statement's columns (shared.fleet.history.ledger).
class LedgerEvent(ReplyModel):
    """One progress event sent with an event_id, as the ledger keeps it."""

    event_id: Annotated[str, Field(min_length=1, max_length=128)]
    business_date: dt.date = Field(description="The day it counted on.")
    received_at: dt.datetime
    deliveries: int = Field(description="As sent: negative for a correction.")
    revenue: float = Field(description="As sent: negative for a correction.")
    status: Status | None
    recorded_by: Principal


class LedgerReply(ReplyModel):
    """get_history?ledger=true: who wrote what for one driver (admins and dispatchers)."""

    driver_id: kinds.DriverIdText
    days: kinds.WindowDays | None = Field(
        description="As asked; null when the window was given by `from` and `to`."
    )
    from_: dt.date = Field(alias="from", description="Events received from this day on.")
    to: dt.date
    targets_set_by: Principal
    events: list[LedgerEvent] = Field(
        description="Received in the window (in FLEET_TIMEZONE), newest first. An event sent"
        " without an event_id is not ledgered; the ledger is kept EVENT_RETENTION_DAYS."
    )
