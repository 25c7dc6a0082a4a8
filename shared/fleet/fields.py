"""Field types shared by the fleet's requests: ids, team names, statuses, money, dates."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BeforeValidator, Field

from shared.validation import NO_NUL

MAX_DAYS = 366

DriverId = Annotated[str, Field(min_length=1, max_length=64)]
# PostgreSQL text cannot hold NUL: refused here rather than by the database.
TeamName = Annotated[str, Field(min_length=1, max_length=64, pattern=NO_NUL)]
Status = Literal["available", "busy", "break", "offline"]
# A decimal string as the OpenAPI document describes Money: ASCII digits, an optional minus, at
# most two decimals; no exponent, underscore, space, plus sign or trailing point.
MONEY_PATTERN = r"^-?[0-9]{1,10}(\.[0-9]{1,2})?$"
_MONEY_TEXT = re.compile(MONEY_PATTERN, re.ASCII)


def _money_input(value: Any) -> Any:
    # JSON true/false are not amounts, though Python would treat them as 1 and 0; a string
    # must be the documented decimal, not whatever Decimal() would read ("1e3", " 5 ", "+5").
    if isinstance(value, bool):
        raise ValueError("must be a number, not a boolean")
    if isinstance(value, str) and not _MONEY_TEXT.fullmatch(value):
        raise ValueError('must be a number or a decimal string such as "42.50"')
    return value


# NUMERIC(12, 2): up to 9,999,999,999.99. The constraints come before the validator, so that
# pydantic-core checks them in the decimal's own schema (after it, each is a Python function:
# 4x the time, a tenth of set_targets' 10,000 drivers).
Money = Annotated[
    Decimal,
    Field(max_digits=12, decimal_places=2, allow_inf_nan=False),
    BeforeValidator(_money_input),
]

_RFC_3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})"
)


def _rfc_3339(value: Any) -> Any:
    # pydantic also reads numbers as Unix times and accepts looser strings; a moment on the wire
    # is an RFC 3339 string with its offset.
    if isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str) or not _RFC_3339.fullmatch(value):
        raise ValueError("must be an RFC 3339 time string, e.g. 2026-12-01T09:30:00+01:00")
    return value


Moment = Annotated[AwareDatetime, BeforeValidator(_rfc_3339)]

Days = Annotated[int, Field(ge=1, le=MAX_DAYS)]
Format = Literal["json", "csv"]


def _iso_date(value: Any) -> Any:
    # pydantic also reads a number, or a string of digits, as a Unix time; a business date is
    # YYYY-MM-DD only.
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        raise ValueError("must be an ISO date string, YYYY-MM-DD")
    return value


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]


Metric = Literal["achievement", "deliveries", "revenue", "per_hour"]
