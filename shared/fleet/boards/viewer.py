"""A board's viewer: who views it (a driver always views their own), the anonymous view, and
the viewer's row when they are not ranked."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from shared.auth.scope import Scope
from shared.fleet.boards.replies import row_fields


def viewing(scope: Scope, viewer: str | None, anonymize: bool) -> tuple[str | None, bool]:
    """The viewer and anonymize a board is asked with: as given, but a driver is always the
    viewer of their board (they may not name another) and sees the others anonymized."""
    if scope.driver_id is None:
        return viewer, anonymize
    if viewer is not None:
        scope.own_driver(viewer, rule="view a board as themselves", field="viewer")
    return scope.driver_id, True


def anonymized(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every driver_id but the viewer's replaced by null."""
    return [row if row.get("is_viewer") else {**row, "driver_id": None} for row in rows]


def unranked(driver_id: str) -> dict[str, Any]:
    """The viewer's row when they worked no day in the window."""
    row: dict[str, Any] = dict.fromkeys(row_fields("driver", compare=True, viewer=False))
    row.update(
        driver_id=driver_id,
        days_worked=0,
        total_deliveries=0,
        total_revenue=Decimal(0),
        days_achieved=0,
        active_minutes=0,
    )
    return row
