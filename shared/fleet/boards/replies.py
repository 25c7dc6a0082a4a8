"""top_performers' replies (see shared.web.replies), and which of a row's fields a board has.

A row's fields are declared in the order of the board statements' columns and of the CSV
columns: the totals, then the movement (only with compare=previous), then is_viewer (only with
a viewer). Pydantic collects inherited fields from the last base to the first, so
`Performer(Movement, PerformerTotals)` lists PerformerTotals' fields before Movement's.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field

from shared.fleet.fields import Metric
from shared.fleet.replies import (
    ActiveMinutes,
    Amount,
    Count,
    DriverIdText,
    PerActiveHour,
    Percentage,
    TeamText,
    WindowDays,
)
from shared.web.replies import ReplyModel, field_names

GroupBy = Literal["driver", "team"]


class Movement(ReplyModel):
    """With compare=previous: the row against the window of the same length just before."""

    previous_rank: Annotated[int, Field(ge=1)] | None = Field(
        None, description="Null when not ranked in the previous window."
    )
    rank_change: int | None = Field(
        None, description="previous_rank - rank (positive = moved up), null when new."
    )
    change_pct: float | None = Field(
        None,
        description="The ranking metric's change in percent, null when there is nothing to "
        "compare.",
    )


class PerformerTotals(ReplyModel):
    rank: Annotated[int, Field(ge=1)] | None = Field(
        description="Null only for a viewer who is not ranked (e.g. under min_days)."
    )
    driver_id: DriverIdText | None = Field(
        description="Null for other drivers with `anonymize=true`."
    )
    days_worked: Count
    total_deliveries: Count
    total_revenue: Amount
    avg_achievement: Percentage | None = Field(
        description="Null only for a viewer with no day in the window."
    )
    days_achieved: Count
    active_minutes: ActiveMinutes
    deliveries_per_active_hour: PerActiveHour


class Performer(Movement, PerformerTotals):
    is_viewer: bool = Field(False, description="Present with `viewer`.")


class TeamTotals(ReplyModel):
    rank: Annotated[int, Field(ge=1)]
    team: TeamText
    drivers: Annotated[int, Field(ge=1)]
    total_deliveries: Count
    total_revenue: Amount
    avg_achievement: Percentage = Field(
        description="Mean achievement over all the team's day rows."
    )
    days_achieved: Count
    active_minutes: ActiveMinutes
    deliveries_per_active_hour: PerActiveHour


class TeamRank(Movement, TeamTotals):
    """A team's row of the teams board (group_by=team)."""


MOVEMENT_FIELDS = field_names(Movement)


def row_fields(group_by: GroupBy, *, compare: bool, viewer: bool) -> tuple[str, ...]:
    """The fields of a board's rows, in order: its JSON keys and its CSV columns."""
    model = TeamRank if group_by == "team" else Performer
    return tuple(
        name
        for name in field_names(model)
        if (compare or name not in MOVEMENT_FIELDS) and (viewer or name != "is_viewer")
    )


class BoardReply(ReplyModel):
    metric: Metric
    group_by: GroupBy
    days: WindowDays | None = Field(
        description="As asked; null when the window was given by `from`/`to` or is live."
    )
    from_: dt.date = Field(alias="from")
    to: dt.date
    team: TeamText | None
    live: bool
    compare: Literal["previous"] | None
    min_days: WindowDays


class TopPerformersReply(BoardReply):
    performers: list[Performer] = Field(
        max_length=101,
        description="Up to `limit` rows, plus the viewer's own row when it falls outside.",
    )


class TeamsReply(BoardReply):
    teams: list[TeamRank] = Field(max_length=100)
