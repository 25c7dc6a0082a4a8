"""What set_targets and get_targets accept."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import Field, StrictBool, StrictInt, field_validator, model_validator

from shared.errors import InvalidInput
from shared.fleet.fields import DriverId, Format, Money, Status, TeamName
from shared.validation import Body, Query

MAX_TARGET_BATCH = 10_000


class DriverTarget(Body):
    driver_id: DriverId
    # Absent keeps an existing driver's stored target (the `_given` properties); these defaults
    # are a new driver's only. An explicit 0 stays 0 (the seed's `|| 20` did not).
    target_deliveries: Annotated[StrictInt, Field(ge=0, le=1_000_000)] = 20
    target_revenue: Annotated[Money, Field(ge=0)] = Decimal("5000")
    # Absent keeps an existing driver's team; null clears it.
    team: TeamName | None = None
    # Today's progress is kept unless this asks otherwise: true zeroes today's counts (a
    # deliberate restart). Per driver: the bare-array body has no place for a request-level flag.
    restart_day: StrictBool = False

    @property
    def target_deliveries_given(self) -> bool:
        return "target_deliveries" in self.model_fields_set

    @property
    def target_revenue_given(self) -> bool:
        return "target_revenue" in self.model_fields_set

    @property
    def team_given(self) -> bool:
        return "team" in self.model_fields_set


class SetTargetsRequest(Body):
    drivers: Annotated[list[DriverTarget], Field(min_length=1)]

    @field_validator("drivers")
    @classmethod
    def _unique_driver_ids(cls, drivers: list[DriverTarget]) -> list[DriverTarget]:
        # InvalidInput, not ValueError: the error names the repeated item, not the whole list.
        first_at: dict[str, int] = {}
        for index, driver in enumerate(drivers):
            if driver.driver_id in first_at:
                field = f"drivers[{index}].driver_id"
                raise InvalidInput(
                    f"{field}: {driver.driver_id!r} already appears at "
                    f"drivers[{first_at[driver.driver_id]}]",
                    field=field,
                )
            first_at[driver.driver_id] = index
        return drivers


class TargetsQuery(Query):
    driver_id: DriverId | None = None
    status: Status | None = None
    team: TeamName | None = None
    limit: Annotated[int, Field(ge=1, le=1000)] = 100
    after: DriverId | None = None
    # The open day in numbers instead of the list (optionally for one team).
    summary: bool = False
    format: Format | None = None

    @model_validator(mode="after")
    def _single_list_or_summary(self) -> TargetsQuery:
        if self.driver_id is not None and self.model_fields_set - {"driver_id", "format"}:
            raise ValueError("driver_id cannot be combined with list parameters")
        if self.summary and self.model_fields_set - {"summary", "team", "format"}:
            raise InvalidInput("summary=true takes only team (and format=json)", field="summary")
        if self.summary and self.format == "csv":
            raise InvalidInput("the summary is answered as JSON only", field="format")
        return self
