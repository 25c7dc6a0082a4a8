"""Field types the fleet's replies share: counts, amounts, percentages, active time."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

# Replies carry NUMERIC values as JSON numbers (shared.web.endpoint writes a Decimal as a float).
Amount = Annotated[float, Field(description="An amount (a JSON number with at most 2 decimals).")]
Percentage = float
Count = Annotated[int, Field(ge=0)]
DriverIdText = Annotated[str, Field(min_length=1, max_length=64)]
TeamText = Annotated[str, Field(min_length=1, max_length=64)]
ActiveMinutes = Annotated[
    int, Field(ge=0, description="Time in `available` or `busy`, by the database clock.")
]
PerActiveHour = Annotated[
    float | None, Field(description="Deliveries per active hour; null without active time.")
]
WindowDays = Annotated[int, Field(ge=1, le=366)]
