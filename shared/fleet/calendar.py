"""The business day: today in the fleet's zone, by the database clock."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from shared.db.transactions import transaction

_TODAY = sa.text("SELECT business_today(:tz)")


def business_today(engine: Engine, timezone: str) -> dt.date:
    """Today in the fleet's zone by the database clock (the one clock every instance shares)."""
    with transaction(engine) as conn:
        today: dt.date = conn.execute(_TODAY, {"tz": timezone}).scalar_one()
    return today
