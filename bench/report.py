"""One result per case (ours, its floor, their ratio, the goal), printed and written as JSON."""

from __future__ import annotations

import json
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RESULTS_PATH = Path(__file__).resolve().parent / "results.json"

_COMPARE: dict[str, Callable[[float, float], bool]] = {"<=": operator.le, ">=": operator.ge}


@dataclass
class Result:
    key: str
    ours: float
    floor: float
    unit: str
    # e.g. ("<=", 2.0): ratio = ours / floor must be at most 2.0; None: for information only.
    goal: tuple[str, float] | None
    ratio_label: str = "ours ÷ floor"
    extra: dict[str, Any] = field(default_factory=dict)
    # Anything else the goal needs (e.g. no increments lost).
    extra_ok: bool = True

    @property
    def ratio(self) -> float:
        return self.ours / self.floor if self.floor else float("inf")

    @property
    def met(self) -> bool:
        if self.goal is None:
            return self.extra_ok
        sign, bound = self.goal
        return _COMPARE[sign](self.ratio, bound) and self.extra_ok

    def goal_text(self) -> str:
        if self.goal is None:
            return f"{self.ratio_label} (information, no goal)"
        return f"{self.ratio_label} {self.goal[0]} {self.goal[1]:g}"

    def as_json(self) -> dict[str, Any]:
        return {
            "ours": round(self.ours, 4),
            "floor": round(self.floor, 4),
            "ratio": round(self.ratio, 3),
            "unit": self.unit,
            "goal": self.goal_text(),
            "met": self.met,
            **self.extra,
        }


def table(results: list[Result]) -> str:
    rows = [("case", "ours", "floor", "ratio", "unit", "goal", "")]
    for r in results:
        rows.append(
            (
                r.key,
                f"{r.ours:.4g}",
                f"{r.floor:.4g}",
                f"{r.ratio:.3g}",
                r.unit,
                r.goal_text(),
                ("pass" if r.met else "FAIL") if r.goal else "",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def write_json(results: list[Result], path: Path = RESULTS_PATH) -> None:
    document = {r.key: r.as_json() for r in results}
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
