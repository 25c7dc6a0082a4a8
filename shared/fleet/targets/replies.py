"""get_targets' and set_targets' replies (see shared.web.replies)."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from shared.fleet.fields import Status
from shared.fleet.replies import (
    ActiveMinutes,
    Amount,
    Count,
    DriverIdText,
    Percentage,
    TeamText,
)
from shared.web.replies import ReplyModel


# The fields in the order of _SELECT_DRIVERS' columns (and the export's): the CSV columns.
class DriverProgress(ReplyModel):
    """A driver's standing targets and today's progress (targets in force today)."""

    driver_id: DriverIdText
    team: TeamText | None
    status: Status
    business_date: dt.date
    target_deliveries: Count
    target_revenue: Amount
    current_deliveries: Count
    current_revenue: Amount
    deliveries_percentage: Percentage
    revenue_percentage: Percentage
    achievement_percentage: Percentage
    deliveries_target_reached: bool
    revenue_target_reached: bool
    target_achieved: bool
    active_minutes: ActiveMinutes
    updated_at: dt.datetime


class DriverPage(ReplyModel):
    drivers: list[DriverProgress]
    next_after: DriverIdText | None = Field(
        description="The next page's `after`; null on the last page."
    )


class StatusCounts(ReplyModel):
    available: Count
    busy: Count
    # `break` is a keyword: the JSON name is the alias.
    on_break: Count = Field(alias="break")
    offline: Count


class DeliveryTotals(ReplyModel):
    done: Count
    target: Count


class RevenueTotals(ReplyModel):
    done: Amount
    target: Amount


class FleetSummary(ReplyModel):
    """The open day across the fleet, or one team with `team`."""

    team: TeamText | None
    drivers: Count
    by_status: StatusCounts
    deliveries: DeliveryTotals
    revenue: RevenueTotals
    reached_deliveries: Count
    reached_revenue: Count


class CountReply(ReplyModel):
    count: Count
