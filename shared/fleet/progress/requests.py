"""What update_progress accepts: one event, or a batch applied all or nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated

from pydantic import Field, StrictInt, field_validator, model_validator

from shared.fleet.fields import DriverId, Moment, Money, Status
from shared.validation import Body

MAX_EVENT_BATCH = 1_000


class ProgressEvent(Body):
    driver_id: DriverId
    # Negative values are corrections; a total never goes below zero (409).
    deliveries: Annotated[StrictInt, Field(ge=-10_000, le=10_000)] = 0
    revenue: Annotated[Money, Field(ge=-1_000_000, le=1_000_000)] = Decimal(0)
    status: Status | None = None
    event_id: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    occurred_at: Moment | None = None

    @field_validator("occurred_at")
    @classmethod
    def _within_calendar(cls, value: dt.datetime | None) -> dt.datetime | None:
        # Years 1 and 9999 overflow once moved to UTC or the fleet's zone.
        if value is not None and not dt.MINYEAR < value.year < dt.MAXYEAR:
            raise ValueError("is out of range")
        return value

    @model_validator(mode="after")
    def _says_something(self) -> ProgressEvent:
        if self.deliveries == 0 and self.revenue == 0 and self.status is None:
            raise ValueError("an event needs deliveries, revenue or status")
        return self


class ProgressBatch(Body):
    events: Annotated[list[ProgressEvent], Field(min_length=1)]
