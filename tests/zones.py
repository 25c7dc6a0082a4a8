"""A fleet time zone where it is around midday now, so tests that place events hours back stay
on today's business date whatever the hour the suite runs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

from tests.helpers import settings_env


def midday_zone_name(now: dt.datetime | None = None) -> str:
    hour = (now or dt.datetime.now(dt.UTC)).hour
    offset = (12 - hour + 12) % 24 - 12  # -12..11 hours from UTC
    # Etc/GMT zones have inverted signs: Etc/GMT-3 is UTC+3.
    return "UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"


@contextmanager
def midday_zone() -> Iterator[str]:
    """Sets FLEET_TIMEZONE for the functions while the block runs."""
    name = midday_zone_name()
    with settings_env(FLEET_TIMEZONE=name):
        yield name
