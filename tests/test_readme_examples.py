"""The README's examples, run in README order against a real `fleet serve` on a fresh database
over real HTTP (port 8080 in the README is the test server's), each checked against the answer
documented under it (issue 16, point 15). How commands are read and answers compared, and the
rule for the README's dates (2026-11-26 is the run's today), is in tests/readme_examples.py.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
from typing import Any

import pytest

from tests.helpers import Databases, today
from tests.readme_examples import (
    README,
    Calendar,
    Example,
    Request,
    examples,
    problems_of,
    request_of,
    shape,
)
from tests.served import serving

pytestmark = pytest.mark.slow


def send(port: int, request: Request) -> tuple[int, Any]:
    """(status, JSON body or None) of `request` on a connection of its own."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(request.method, request.path, body=request.body, headers=request.headers)
        response = conn.getresponse()
        payload = response.read()
        json_reply = (response.getheader("Content-Type") or "").startswith("application/json")
        return response.status, json.loads(payload) if json_reply and payload else None
    finally:
        conn.close()


def test_the_readme_examples_give_their_documented_answers(databases: Databases) -> None:
    found = examples(README.read_text(encoding="utf-8"))
    assert len(found) >= 30, [example.where() for example in found]
    calendar = Calendar(today())
    problems: list[str] = []
    with serving(databases.create_migrated()) as server:
        for example in found:
            status, body = send(server.port, request_of(calendar.command(example.command)))
            problems += problems_of(example, status, body, calendar)
    assert not problems, "\n".join(problems)


# --- the reading and the comparison themselves -------------------------------------------------

SNIPPET = """Prose.

```sh
curl -s 'http://127.0.0.1:8080/get_targets?driver_id=X'
# {"driver_id":"X","team":null,"target_revenue":5000.0,"business_date":"2026-11-25",
#  "updated_at":"...","active_minutes":0,...}   prose after the answer
curl -s -X POST http://127.0.0.1:8080/manage_webhooks -H 'Content-Type: application/json' \\
  -d '{"url": "http://127.0.0.1:9000/hooks",
       "events": ["day_closed"]}'
# 201 {"id":"0b6f...","events":[...]}
curl -s -X DELETE 'http://127.0.0.1:8080/manage_webhooks?id=0b6f...'
```
"""
ONE_DRIVER = {
    "driver_id": "X",
    "team": None,
    "target_revenue": 5000.0,
    "business_date": "2026-11-30",  # 2026-11-25 in the README, run on 2026-12-01
    "updated_at": "2026-12-01T12:00:00+00:00",
    "active_minutes": 0,
    "status": "available",
}


def _snippet() -> tuple[list[Example], Calendar]:
    return examples(SNIPPET), Calendar(dt.date(2026, 12, 1))


def test_the_snippet_is_read_with_line_numbers_answers_and_statuses() -> None:
    (one, hook, delete), _ = _snippet()
    assert (one.line, hook.line, delete.line) == (4, 7, 11)
    assert (one.status, hook.status, delete.answered) == (None, 201, False)
    assert hook.answer == {"id": "0b6f...", "events": ["\u2026"]}
    request = request_of(hook.command)
    assert (request.method, request.path) == ("POST", "/manage_webhooks")
    assert json.loads(request.body or b"") == {
        "url": "http://127.0.0.1:9000/hooks",
        "events": ["day_closed"],
    }
    assert request.headers["Content-Type"] == "application/json"


def test_a_documented_answer_matches_with_its_placeholders_and_dates() -> None:
    (one, hook, delete), calendar = _snippet()
    assert problems_of(one, 200, ONE_DRIVER, calendar) == []
    assert problems_of(hook, 201, {"id": "76ea-real", "events": []}, calendar) == []
    assert calendar.command(delete.command).endswith("?id=76ea-real'")


def test_a_field_gone_from_the_answer_fails_naming_the_example_and_the_field() -> None:
    (one, _, _), calendar = _snippet()
    gone = {k: v for k, v in ONE_DRIVER.items() if k != "active_minutes"}
    assert problems_of(one, 200, gone, calendar) == [
        "README.md line 4 (`curl -s 'http://127.0.0.1:8080/get_targets?driver_id=X'`):"
        " active_minutes: in the README, not in the answer"
    ]


def test_a_changed_stable_value_fails_naming_the_field() -> None:
    (one, hook, _), calendar = _snippet()
    changed = {**ONE_DRIVER, "team": "south", "target_revenue": 5000, "business_date": "2026-12-01"}
    found = [problem.split("`): ", 1)[1] for problem in problems_of(one, 200, changed, calendar)]
    assert found == [
        "team: README shows null, the service answers 'south'",
        "target_revenue: README shows 5000.0, the service answers 5000",
        "business_date: README shows \"2026-11-30\", the service answers '2026-12-01'",
    ]
    assert len(problems_of(hook, 200, {"id": "x", "events": []}, calendar)) == 1  # not 201


def test_lists_keys_and_statuses_are_checked_as_documented() -> None:
    calendar = Calendar(dt.date(2026, 11, 26))
    board = Example(9, "curl -s http://127.0.0.1:8080/top_performers", answered=True)
    board.answer = shape('{"performers":[{"rank":1,...},...,{"rank":null,...}]}')
    rows = [{"rank": 1, "id": "a"}, {"rank": 2}, {"rank": None}]
    assert problems_of(board, 200, {"performers": rows}, calendar) == []
    assert len(problems_of(board, 200, {"performers": rows[:1]}, calendar)) == 1
    assert len(problems_of(board, 200, {"performers": rows[::-1]}, calendar)) == 2
    assert len(problems_of(board, 200, {"performers": rows, "extra": 1}, calendar)) == 1
    board.answer = {"error": {"code": "invalid_input"}}
    assert len(problems_of(board, 200, board.answer, calendar)) == 1  # an error must be a 4xx
    assert problems_of(board, 400, board.answer, calendar) == []


def test_a_printf_pipe_is_the_body_of_data_binary_stdin() -> None:
    request = request_of(
        "printf 'a,b\\n1,2\\n' |\n  curl -s -X POST http://127.0.0.1:8080/set_targets"
        " -H 'Content-Type: text/csv' --data-binary @-"
    )
    assert (request.method, request.body) == ("POST", b"a,b\n1,2\n")
