"""Request models: what each function accepts, with the limits it enforces."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    field_validator,
    model_validator,
)

MAX_TARGET_BATCH = 10_000
MAX_EVENT_BATCH = 1_000
MAX_DAYS = 366

DriverId = Annotated[str, Field(min_length=1, max_length=64)]
Status = Literal["available", "busy", "break", "offline"]
# NUMERIC(12, 2): up to 9,999,999,999.99.
Money = Annotated[Decimal, Field(max_digits=12, decimal_places=2, allow_inf_nan=False)]


def _no_bool(value: Any) -> Any:
    # JSON true/false are not amounts, though Python would treat them as 1 and 0.
    if isinstance(value, bool):
        raise ValueError("must be a number, not a boolean")
    return value


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DriverTarget(_Body):
    driver_id: DriverId
    # Defaults only when the field is absent: an explicit 0 stays 0 (the seed's `|| 20` did not).
    target_deliveries: Annotated[StrictInt, Field(ge=0, le=1_000_000)] = 20
    target_revenue: Annotated[Money, Field(ge=0)] = Decimal("5000")

    _money_not_bool = field_validator("target_revenue", mode="before")(_no_bool)


class SetTargetsRequest(_Body):
    drivers: Annotated[list[DriverTarget], Field(min_length=1)]

    @field_validator("drivers")
    @classmethod
    def _unique_driver_ids(cls, drivers: list[DriverTarget]) -> list[DriverTarget]:
        seen: set[str] = set()
        for driver in drivers:
            if driver.driver_id in seen:
                raise ValueError(f"driver_id {driver.driver_id!r} appears more than once")
            seen.add(driver.driver_id)
        return drivers


class ProgressEvent(_Body):
    driver_id: DriverId
    # Negative values are corrections; a total never goes below zero (409).
    deliveries: Annotated[StrictInt, Field(ge=-10_000, le=10_000)] = 0
    revenue: Annotated[Money, Field(ge=-1_000_000, le=1_000_000)] = Decimal(0)
    status: Status | None = None
    event_id: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    occurred_at: AwareDatetime | None = None

    _money_not_bool = field_validator("revenue", mode="before")(_no_bool)

    @model_validator(mode="after")
    def _says_something(self) -> ProgressEvent:
        if self.deliveries == 0 and self.revenue == 0 and self.status is None:
            raise ValueError("an event needs deliveries, revenue or status")
        return self


class ProgressBatch(_Body):
    events: Annotated[list[ProgressEvent], Field(min_length=1)]


class SnapshotRequest(_Body):
    date: dt.date | None = None
    reset: StrictBool = True


class _Query(BaseModel):
    """Query strings: values arrive as text, unknown parameters are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


Days = Annotated[int, Field(ge=1, le=MAX_DAYS)]


class TargetsQuery(_Query):
    driver_id: DriverId | None = None
    status: Status | None = None
    limit: Annotated[int, Field(ge=1, le=1000)] = 100
    after: DriverId | None = None

    @model_validator(mode="after")
    def _single_or_list(self) -> TargetsQuery:
        if self.driver_id is not None and self.model_fields_set - {"driver_id"}:
            raise ValueError("driver_id cannot be combined with list parameters")
        return self


class HistoryQuery(_Query):
    driver_id: DriverId
    days: Days = 30


class TopPerformersQuery(_Query):
    days: Days = 30
    limit: Annotated[int, Field(ge=1, le=100)] = 10
    metric: Literal["achievement", "deliveries", "revenue"] = "achievement"
