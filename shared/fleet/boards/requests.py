"""What top_performers accepts."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from shared.errors import InvalidInput
from shared.fleet.fields import MAX_DAYS, DriverId, Format, Metric, TeamName
from shared.fleet.window import Window


class TopPerformersQuery(Window):
    limit: Annotated[int, Field(ge=1, le=100)] = 10
    metric: Metric = "achievement"
    team: TeamName | None = None
    group_by: Literal["driver", "team"] = "driver"
    compare: Literal["previous"] | None = None
    # Drivers with fewer days worked in the window are left out of the board.
    min_days: Annotated[int, Field(ge=1, le=MAX_DAYS)] = 1
    # The open day ranked from current progress.
    live: bool = False
    viewer: DriverId | None = None
    anonymize: bool = False
    format: Format | None = None

    @model_validator(mode="after")
    def _consistent(self) -> TopPerformersQuery:
        if self.live and self.explicit_window:
            raise InvalidInput(
                "live=true ranks the open day; it takes no days, from or to", field="live"
            )
        if self.group_by == "team" and (self.viewer is not None or self.anonymize):
            raise InvalidInput(
                "viewer and anonymize apply to the drivers board",
                field="viewer" if self.viewer is not None else "anonymize",
            )
        return self
