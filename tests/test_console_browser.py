"""The console in a real browser (headless Chromium) against the functions served over HTTP on
a database of its own, seeded through the API: what the page shows is what the API says.

One browser for the module, its page loaded once by the fixture; the tests share it in order
(the last ones check that it refreshed by itself, never reloading, and logged no JavaScript
error), and each sets what it relies on, so any one of them also passes alone. A screenshot of
each view is written under each test's tmp_path.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser import (
    Api,
    TokenGate,
    canvas_ink,
    chromium,
    eventually,
    javascript_errors,
    served,
)
from tests.console_page import board, open_view, rows, status_text, summary_tiles, tiles
from tests.helpers import Databases, using_database

pytestmark = pytest.mark.slow

TODAY = dt.datetime.now(dt.UTC).date()
TEAMS = {"north": ["DRV-101", "DRV-102", "DRV-103"], "south": ["DRV-201", "DRV-202"]}
# Closed days: deliveries per driver on each of the three days before today.
HISTORY = {
    "DRV-101": [6, 9, 11],
    "DRV-102": [10, 4, 7],
    "DRV-103": [2, 3, 5],
    "DRV-201": [12, 12, 9],
    "DRV-202": [5, 8, 10],
}
# Today so far: deliveries, revenue, status. 101 and 102 tie on deliveries.
LIVE = {
    "DRV-101": (8, "400", "busy"),
    "DRV-102": (8, "300", "available"),
    "DRV-201": (12, "700", "busy"),
    "DRV-202": (3, "90", "break"),
}


def _seed(api: Api) -> None:
    api.post(
        "/set_targets",
        [
            {"driver_id": d, "target_deliveries": 10, "target_revenue": 500, "team": team}
            for team, drivers in TEAMS.items()
            for d in drivers
        ],
    )
    for back in (3, 2, 1):
        day = TODAY - dt.timedelta(days=back)
        noon = dt.datetime.combine(day, dt.time(12), dt.UTC).isoformat()
        events = [
            {
                "driver_id": d,
                "deliveries": n[3 - back],
                "revenue": n[3 - back] * 45,
                "occurred_at": noon,
                "event_id": f"{d}-{day}",
            }
            for d, n in HISTORY.items()
        ]
        api.post("/update_progress", {"events": events})
        api.post("/snapshot_daily", {"date": day.isoformat(), "reset": False})
    for driver, (deliveries, revenue, status) in LIVE.items():
        api.post(
            "/update_progress",
            {"driver_id": driver, "deliveries": deliveries, "revenue": revenue, "status": status},
        )
    api.post("/update_progress", {"driver_id": "DRV-103", "status": "offline"})
    api.post(
        "/manage_webhooks",
        {"url": "http://127.0.0.1:9/hooks", "events": ["target_reached"], "description": "ops"},
    )


@pytest.fixture(scope="module")
def stack(app: Any, databases: Databases) -> Iterator[Api]:
    settings = {"FLEET_TIMEZONE": "UTC", "WEBHOOKS_ALLOW_LOOPBACK_HTTP": "true"}
    gate = TokenGate(app)
    with using_database(databases.create_migrated(), **settings), served(gate) as base:
        api = Api(base)
        api.gate = gate  # type: ignore[attr-defined]
        _seed(api)
        yield api


@pytest.fixture(scope="module")
def browser(stack: Api, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    downloads = tmp_path_factory.mktemp("downloads")
    driver = chromium(tmp_path_factory.mktemp("profile"), downloads)
    driver.downloads = downloads
    try:
        driver.get(stack.base + "/console")
        WebDriverWait(driver, 15).until(
            lambda b: b.execute_script("return document.body.dataset.ready")
        )
        # Set once: if the page ever reloads, the marker is gone (see the refresh test).
        driver.execute_script("window.consoleTestMarker = 1")
        yield driver
    finally:
        driver.quit()


def test_the_first_load_shows_todays_tiles_under_250_kb(
    browser: Any, stack: Api, tmp_path: Path
) -> None:
    eventually(lambda: tiles(browser), summary_tiles(stack))
    sizes = browser.execute_script(
        "return [performance.getEntriesByType('navigation')[0].transferSize,"
        " ...performance.getEntriesByType('resource').map(r => r.transferSize)]"
    )
    assert sum(sizes) < 250_000, sizes
    assert browser.find_element(By.ID, "business-date").text == f"Business day {TODAY}."
    browser.save_screenshot(str(tmp_path / "today-and-live-board.png"))


def test_the_live_board_has_the_services_rows_ranks_and_movement(browser: Any, stack: Api) -> None:
    api = "/top_performers?live=true&compare=previous&limit=25&metric="
    eventually(lambda: rows(browser, "#live-board"), board(stack.get(api + "achievement")))
    Select(browser.find_element(By.CSS_SELECTOR, "#live-form select[name=metric]")).select_by_value(
        "deliveries"
    )
    shown = eventually(lambda: rows(browser, "#live-board"), board(stack.get(api + "deliveries")))
    ranks = [rank for rank, _ in shown]
    assert len(set(ranks)) < len(ranks), "101 and 102 tie: one rank twice"
    arrows = browser.find_elements(By.CSS_SELECTOR, "#live-board .move")
    assert {a.text[:1] for a in arrows} & {"▲", "▼", "="}


def test_the_team_picker_filters_tiles_and_boards(browser: Any, stack: Api, tmp_path: Path) -> None:
    metric = Select(browser.find_element(By.CSS_SELECTOR, "#live-form select[name=metric]"))
    metric.select_by_value("deliveries")
    picker = browser.find_element(By.ID, "team")
    picker.send_keys("north", Keys.TAB)
    eventually(lambda: tiles(browser), summary_tiles(stack, "north"))
    api = "/top_performers?live=true&compare=previous&limit=25&metric=deliveries&team=north"
    eventually(lambda: rows(browser, "#live-board"), board(stack.get(api)))
    assert {d for _, d in rows(browser, "#live-board")} <= set(TEAMS["north"])
    browser.save_screenshot(str(tmp_path / "team-north.png"))
    picker.clear()
    picker.send_keys(Keys.TAB)
    eventually(lambda: tiles(browser), summary_tiles(stack))


def test_period_boards_and_their_csv_are_the_services(
    browser: Any, stack: Api, tmp_path: Path
) -> None:
    open_view(browser, "boards")
    browser.find_element(By.CSS_SELECTOR, '[data-preset="7"]').click()
    window = {"from": str(TODAY - dt.timedelta(days=6)), "to": str(TODAY)}
    query = {
        **window,
        "group_by": "driver",
        "metric": "achievement",
        "min_days": "1",
        "limit": "25",
        "compare": "previous",
    }
    eventually(
        lambda: rows(browser, "#period-board"),
        board(stack.get("/top_performers?" + urlencode(query))),
    )
    form = browser.find_element(By.ID, "period-form")
    Select(form.find_element(By.NAME, "group_by")).select_by_value("team")
    Select(form.find_element(By.NAME, "metric")).select_by_value("deliveries")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    query.update(group_by="team", metric="deliveries")
    eventually(
        lambda: rows(browser, "#period-board"),
        board(stack.get("/top_performers?" + urlencode(query))),
    )
    browser.save_screenshot(str(tmp_path / "period-boards.png"))
    browser.find_element(By.ID, "period-csv").click()
    name = f"top_teams_{window['from']}_{window['to']}.csv"
    saved = browser.downloads / name
    eventually(saved.exists, True)
    expected = stack.raw(
        "GET", "/top_performers?" + urlencode({**query, "format": "csv"}), None, ""
    )
    assert saved.read_bytes() == expected


def test_the_drivers_list_pages_filters_and_searches(
    browser: Any, stack: Api, tmp_path: Path
) -> None:
    open_view(browser, "drivers")
    everyone = [d["driver_id"] for d in stack.get("/get_targets?limit=50")["drivers"]]
    eventually(lambda: [d for _, d in rows(browser, "#driver-list")], everyone)
    browser.save_screenshot(str(tmp_path / "drivers.png"))
    Select(
        browser.find_element(By.CSS_SELECTOR, "#driver-filter select[name=status]")
    ).select_by_value("busy")
    busy = [d["driver_id"] for d in stack.get("/get_targets?limit=50&status=busy")["drivers"]]
    eventually(lambda: [d for _, d in rows(browser, "#driver-list")], busy)
    search = browser.find_element(By.CSS_SELECTOR, "#driver-search input")
    search.send_keys("nobody", Keys.ENTER)
    message = stack.error_message("/get_targets?driver_id=nobody")
    eventually(lambda: status_text(browser, "drivers"), message)
    search.clear()
    search.send_keys("DRV-202", Keys.ENTER)
    eventually(lambda: [d for _, d in rows(browser, "#driver-list")], ["DRV-202"])


def test_a_drivers_page_draws_the_history_chart(browser: Any, stack: Api, tmp_path: Path) -> None:
    browser.find_element(By.LINK_TEXT, "DRV-202").click()
    canvases = WebDriverWait(browser, 10).until(
        lambda b: b.find_elements(By.CSS_SELECTOR, "#chart-deliveries canvas")
    )
    eventually(lambda: canvas_ink(browser, canvases[0]) > 500, True)
    browser.execute_script("arguments[0].scrollIntoView()", canvases[0])
    history = stack.get("/get_history?driver_id=DRV-202&days=30")["history"]
    days = browser.find_elements(By.CSS_SELECTOR, "#driver-history tbody tr")
    assert [d.find_element(By.TAG_NAME, "td").text for d in days] == [h["date"] for h in history]
    browser.save_screenshot(str(tmp_path / "driver.png"))


def test_a_spreadsheet_sets_targets_and_a_bad_one_writes_nothing(
    browser: Any, stack: Api, tmp_path: Path
) -> None:
    open_view(browser, "targets")
    good = tmp_path / "targets.csv"
    good.write_text(
        "driver_id,target_deliveries,target_revenue,team\nDRV-301,15,750.00,south\nDRV-302,9,450,\n"
    )
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "driver_id,target_deliveries,target_revenue,team\nDRV-401,15,750.00,south\nDRV-402,9,-5,\n"
    )
    chooser = browser.find_element(By.CSS_SELECTOR, "#upload-form input[type=file]")
    chooser.send_keys(str(good))
    eventually(lambda: len(browser.find_elements(By.CSS_SELECTOR, "#upload-preview tbody tr")), 2)
    browser.save_screenshot(str(tmp_path / "upload-preview.png"))
    browser.find_element(By.ID, "upload-send").click()
    eventually(lambda: status_text(browser, "targets"), "Targets set for 2 drivers.")
    assert stack.get("/get_targets?driver_id=DRV-301")["target_revenue"] == 750
    # The tiles follow at once, not at the next 15-second refresh.
    eventually(lambda: tiles(browser), summary_tiles(stack))
    chooser.send_keys(str(bad))
    browser.find_element(By.ID, "upload-send").click()
    expected = "Nothing was written: row 3, target_revenue: must be >= 0"
    eventually(lambda: status_text(browser, "targets"), expected)
    assert stack.status("/get_targets?driver_id=DRV-401") == 404
    marked = browser.find_elements(By.CSS_SELECTOR, "#upload-preview tr.bad")
    assert [row.get_attribute("data-row") for row in marked] == ["3"]
    browser.save_screenshot(str(tmp_path / "upload-error.png"))


def test_the_webhooks_view_lists_the_subscriptions(
    browser: Any, stack: Api, tmp_path: Path
) -> None:
    open_view(browser, "webhooks")
    listed = [s["url"] for s in stack.get("/manage_webhooks")["subscriptions"]]

    def cells() -> list[str]:
        found = browser.find_elements(By.CSS_SELECTOR, "#webhook-list tbody tr")
        return [row.find_element(By.TAG_NAME, "td").text for row in found]

    eventually(cells, listed)
    browser.save_screenshot(str(tmp_path / "webhooks.png"))


def test_the_tiles_refresh_by_themselves_without_a_reload(browser: Any, stack: Api) -> None:
    stack.post("/update_progress", {"driver_id": "DRV-103", "deliveries": 4, "status": "busy"})
    eventually(lambda: tiles(browser), summary_tiles(stack), timeout=20)
    assert browser.execute_script("return window.consoleTestMarker") == 1


def test_a_401_asks_for_a_token_that_every_call_then_carries(browser: Any, stack: Api) -> None:
    expected = summary_tiles(stack)
    stack.gate.required = "token-1"  # type: ignore[attr-defined]
    try:
        open_view(browser, "live")
        field = WebDriverWait(browser, 10).until(lambda b: b.find_element(By.ID, "token"))
        eventually(field.is_displayed, True)
        assert status_text(browser, "live") == "sign in first"
        field.send_keys("token-1", Keys.ENTER)
        eventually(lambda: status_text(browser, "live"), "")
        eventually(lambda: tiles(browser), expected)
        assert stack.gate.seen[-1] == "Bearer token-1"  # type: ignore[attr-defined]
        assert browser.find_element(By.ID, "signout").is_displayed()
    finally:
        stack.gate.required = None  # type: ignore[attr-defined]


def test_every_control_is_labelled_and_a_tablet_needs_no_sideways_scroll(browser: Any) -> None:
    unlabelled = browser.execute_script(
        "return [...document.querySelectorAll('input, select')]"
        ".filter(c => !c.labels.length && !c.getAttribute('aria-label')).map(c => c.outerHTML)"
    )
    assert unlabelled == []
    browser.set_window_size(820, 1180)
    open_view(browser, "boards")
    time.sleep(0.3)
    assert browser.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth"
    )


def test_the_page_logged_no_javascript_error(browser: Any) -> None:
    # The only errors allowed are the refusals asked for on purpose (404, 400, 401), which
    # Chromium logs as failed loads.
    allowed = ("get_targets?driver_id=nobody", "/set_targets", "status of 401")
    assert javascript_errors(browser, allowed) == []
