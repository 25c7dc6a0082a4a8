"""Field types shared by the fleet's requests: ids, team names, statuses, money, dates."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Field,
)

from shared.validation import NO_NUL

MAX_DAYS = 366

DriverId = Annotated[str, Field(min_length=1, max_length=64)]
# PostgreSQL text cannot hold NUL: refused here rather than by the database.
TeamName = Annotated[str, Field(min_length=1, max_length=64, pattern=NO_NUL)]
Status = Literal["available", "busy", "break", "offline"]
# NUMERIC(12, 2): up to 9,999,999,999.99.
Money = Annotated[Decimal, Field(max_digits=12, decimal_places=2, allow_inf_nan=False)]

Days = Annotated[int, Field(ge=1, le=MAX_DAYS)]
Format = Literal["json", "csv"]


def _iso_date(value: Any) -> Any:
    # pydantic also reads a string of digits as a Unix time; a business date is YYYY-MM-DD only.
    if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("must be an ISO date, YYYY-MM-DD")
    return value


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]


Metric = Literal["achievement", "deliveries", "revenue", "per_hour"]
