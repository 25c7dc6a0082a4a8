"""Request models: what each function accepts, with the limits it enforces."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    field_validator,
    model_validator,
)

from shared.errors import InvalidInput

MAX_TARGET_BATCH = 10_000
MAX_EVENT_BATCH = 1_000
MAX_DAYS = 366

DriverId = Annotated[str, Field(min_length=1, max_length=64)]
# PostgreSQL text cannot hold NUL: refused here rather than by the database.
TeamName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\x00]*$")]
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
    # Absent keeps an existing driver's team (see `team_given`); null clears it.
    team: TeamName | None = None

    _money_not_bool = field_validator("target_revenue", mode="before")(_no_bool)

    @property
    def team_given(self) -> bool:
        return "team" in self.model_fields_set


class SetTargetsRequest(_Body):
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


class ProgressEvent(_Body):
    driver_id: DriverId
    # Negative values are corrections; a total never goes below zero (409).
    deliveries: Annotated[StrictInt, Field(ge=-10_000, le=10_000)] = 0
    revenue: Annotated[Money, Field(ge=-1_000_000, le=1_000_000)] = Decimal(0)
    status: Status | None = None
    event_id: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    occurred_at: AwareDatetime | None = None

    _money_not_bool = field_validator("revenue", mode="before")(_no_bool)

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


class ProgressBatch(_Body):
    events: Annotated[list[ProgressEvent], Field(min_length=1)]


class SnapshotRequest(_Body):
    date: dt.date | None = None
    reset: StrictBool = True


class _Query(BaseModel):
    """Query strings: values arrive as text, unknown parameters are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


Days = Annotated[int, Field(ge=1, le=MAX_DAYS)]
Format = Literal["json", "csv"]


def _iso_date(value: Any) -> Any:
    # pydantic also reads a string of digits as a Unix time; a business date is YYYY-MM-DD only.
    if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("must be an ISO date, YYYY-MM-DD")
    return value


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]


class TargetsQuery(_Query):
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


class _Window(_Query):
    """A window of business dates: `days` (N days back to today) or `from` and `to` (inclusive,
    ISO dates in FLEET_TIMEZONE), never both."""

    days: Days | None = None
    from_: IsoDate | None = Field(default=None, alias="from")
    to: IsoDate | None = None

    @model_validator(mode="after")
    def _one_form(self) -> Any:
        if self.days is not None and (self.from_ is not None or self.to is not None):
            raise InvalidInput("give either days or from and to, not both", field="days")
        if (self.from_ is None) != (self.to is None):
            missing = "to" if self.to is None else "from"
            raise InvalidInput("from and to go together", field=missing)
        if self.from_ is not None and self.to is not None:
            if self.to < self.from_:
                raise InvalidInput("to is before from", field="to")
            if (self.to - self.from_).days + 1 > MAX_DAYS:
                raise InvalidInput(f"the window is over {MAX_DAYS} days", field="to")
        return self

    @property
    def explicit_window(self) -> bool:
        return bool(self.model_fields_set & {"days", "from_", "to"})

    def window(self, today: dt.date) -> tuple[dt.date, dt.date]:
        """The inclusive (from, to); the days form is the N days before today and today."""
        if self.from_ is not None and self.to is not None:
            return self.from_, self.to
        return today - dt.timedelta(days=self.days or 30), today


class HistoryQuery(_Window):
    driver_id: DriverId
    format: Format | None = None


Metric = Literal["achievement", "deliveries", "revenue", "per_hour"]


class TopPerformersQuery(_Window):
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


WebhookEvent = Literal["target_reached", "day_closed"]


# PostgreSQL text cannot hold NUL.
_NO_NUL = r"^[^\x00]*$"


class WebhookSubscriptionRequest(_Body):
    url: Annotated[str, Field(min_length=1, max_length=2048, pattern=_NO_NUL)]
    events: Annotated[list[WebhookEvent], Field(min_length=1, max_length=2)]
    description: Annotated[str, Field(max_length=256, pattern=_NO_NUL)] | None = None

    @field_validator("events")
    @classmethod
    def _unique_events(cls, events: list[WebhookEvent]) -> list[WebhookEvent]:
        if len(set(events)) != len(events):
            raise ValueError("an event type appears more than once")
        return events


class WebhookListQuery(_Query):
    pass


class WebhookDeleteQuery(_Query):
    id: Annotated[str, Field(min_length=1, max_length=64)]
