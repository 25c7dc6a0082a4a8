"""What get_history accepts."""

from __future__ import annotations

from pydantic import model_validator

from shared.errors import InvalidInput
from shared.fleet.fields import DriverId, Format
from shared.fleet.window import Window


class HistoryQuery(Window):
    driver_id: DriverId
    # The driver's ledger (who sent each event, who set the targets) instead of closed days.
    ledger: bool = False
    format: Format | None = None

    @model_validator(mode="after")
    def _ledger_as_json(self) -> HistoryQuery:
        if self.ledger and self.format == "csv":
            raise InvalidInput("the ledger is answered as JSON only", field="format")
        return self
