"""What the console's page shows, read in the browser, and what the API says it should show:
the readers the browser tests compare."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from selenium.webdriver.common.by import By

from tests.browser import Api


def rows(browser: Any, container: str) -> list[tuple[str, str]]:
    cells = browser.execute_script(
        "return [...document.querySelectorAll(arguments[0] + ' tbody tr')]"
        ".map(tr => [tr.dataset.rank ?? '', tr.dataset.id])",
        container,
    )
    return [tuple(c) for c in cells]


def board(reply: dict[str, Any]) -> list[tuple[str, str]]:
    if reply["group_by"] == "team":
        return [(str(r["rank"]), r["team"]) for r in reply["teams"]]
    return [(str(r["rank"]), r["driver_id"]) for r in reply["performers"]]


def tiles(browser: Any) -> dict[str, float]:
    found = browser.execute_script(
        "return Object.fromEntries([...document.querySelectorAll('[data-tile]')]"
        ".map(t => [t.dataset.tile, Number(t.dataset.value)]))"
    )
    return dict(found)


def summary_tiles(api: Api, team: str = "") -> dict[str, float]:
    s = api.get(
        "/get_targets?" + urlencode({"summary": "true", **({"team": team} if team else {})})
    )
    return {
        "drivers": s["drivers"],
        **{k: v for k, v in s["by_status"].items()},
        "deliveries": s["deliveries"]["done"],
        "revenue": s["revenue"]["done"],
        "reached_deliveries": s["reached_deliveries"],
        "reached_revenue": s["reached_revenue"],
    }


def status_text(browser: Any, view: str) -> str:
    text: str = browser.find_element(By.CSS_SELECTOR, f"#view-{view} .status").text
    return text


def open_view(browser: Any, view: str) -> None:
    browser.find_element(By.CSS_SELECTOR, f'.tabs a[data-view="{view}"]').click()
