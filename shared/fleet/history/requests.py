"""What get_history accepts."""

from __future__ import annotations

from shared.fleet.fields import DriverId, Format
from shared.fleet.window import Window


class HistoryQuery(Window):
    driver_id: DriverId
    format: Format | None = None
