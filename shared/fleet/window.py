"""A window of business dates, as the history and the boards take it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import Field, model_validator

from shared.errors import InvalidInput
from shared.fleet.fields import MAX_DAYS, Days, IsoDate
from shared.validation import Query

# The window when a request names none: the 30 days before today, and today.
DEFAULT_DAYS = 30


class Window(Query):
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
        return today - dt.timedelta(days=self.days_used or DEFAULT_DAYS), today

    @property
    def days_used(self) -> int | None:
        """`days` as the window used it (DEFAULT_DAYS when none was given); None for from/to."""
        return None if self.from_ is not None else (self.days or DEFAULT_DAYS)
