"""The README's curl examples and their documented answers, read out of README.md; the HTTP
request each command sends; and the comparison of a real answer with the documented one
(tests/test_readme_examples.py runs them in README order against a real `fleet serve`).

What is read: every command in a ```sh block that calls `curl` on http://127.0.0.1:8080 (the
test server's port instead), its `\\` continuations and quoted newlines joined; a `printf '...' |`
before it is its stdin (`--data-binary @-`). The `# ...` lines right under it, when they start
with a JSON object (after an optional status, `# 201 {...}`), are its documented answer; prose
after the JSON is ignored.

How an answer is compared (`compare`):
- an object names keys that must all be there, and no others unless it holds `...`;
- a list is matched item by item; `...` stands for any number of items (`[...]`: any list,
  `[{...},...]`: at least the first, `[{...},...,{...}]`: the first and the last);
- a string holding `...` (`"0b6f..."`, `"..."`) is any string; one with more than `...` in it
  binds to the real value, and the same text in a later command is replaced by it (as a reader
  pastes an id);
- a date `YYYY-MM-DD` is the README's calendar: the examples were run on 2026-11-26, so a
  README date D stands for the real date today + (D - 2026-11-26), in the fleet's time zone
  (UTC here, as in a default `make run`); dates in commands are mapped the same way;
- every other value (booleans, null, numbers, strings) must be equal, with the same JSON type
  (`5000.0` is not `5000`);
- the status written (`# 201 {...}`) must be the status; with none written, an answer holding
  `error` must be a 4xx and any other a 2xx, and a command with no answer must not fail (< 400).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shlex
from dataclasses import dataclass
from typing import Any

from tests.helpers import PROJECT_ROOT

README = PROJECT_ROOT / "README.md"
README_TODAY = dt.date(2026, 11, 26)
LOCAL = "http://127.0.0.1:8080"
MORE = "\u2026"  # a `...` in a list; as an object key (with a suffix), "and more keys"
DATE = re.compile(r"\b20\d\d-\d\d-\d\d\b")
ANSWER = re.compile(r"(?:(\d{3})\s+)?([{\[].*)")


@dataclass
class Example:
    line: int  # of the command's first line in README.md
    command: str
    status: int | None = None
    answer: Any = None
    answered: bool = False

    def where(self) -> str:
        return f"README.md line {self.line} (`{self.command.splitlines()[0]}`)"


def _complete(command: str) -> bool:
    if command.rstrip().endswith(("\\", "|")):
        return False
    try:
        shlex.split(command, comments=True)
    except ValueError:  # an open quote: the command goes on on the next line
        return False
    return True


def examples(text: str) -> list[Example]:
    """Every local curl command of the ```sh blocks, in order, with its documented answer."""
    found: list[Example] = []
    fence: str | None = None
    lines = text.splitlines()
    number = 0
    while number < len(lines):
        line = lines[number]
        number += 1
        if line.startswith("```"):
            fence = line[3:].strip() if fence is None else None
            continue
        if fence != "sh" or not line.strip() or line.lstrip().startswith("#"):
            continue
        start, command = number, line
        while not _complete(command) and number < len(lines):
            command += "\n" + lines[number]
            number += 1
        comments: list[str] = []
        while number < len(lines) and lines[number].lstrip().startswith("#"):
            comments.append(lines[number].lstrip()[1:].strip())
            number += 1
        if "curl" not in command or LOCAL not in command:
            continue
        example = Example(start, command)
        written = ANSWER.fullmatch(" ".join(comments))
        if comments and written:
            example.status = int(written[1]) if written[1] else None
            example.answer, example.answered = shape(written[2]), True
        found.append(example)
    return found


def shape(text: str) -> Any:
    """The JSON value at the start of `text`, its `...` placeholders made JSON (MORE)."""
    out: list[str] = []
    stack: list[str] = []
    index, quoted = 0, False
    while index < len(text):
        char = text[index]
        if quoted:
            out.append(text[index : index + 2] if char == "\\" else char)
            index += 2 if char == "\\" else 1
            quoted = char != '"'
            continue
        if text.startswith("...", index):
            out.append(f'"{MORE}{index}": 0' if stack[-1:] == ["{"] else f'"{MORE}"')
            index += 3
            continue
        out.append(char)
        quoted = char == '"'
        if char in "{[":
            stack.append(char)
        elif char in "}]":
            stack.pop()
            if not stack:
                break
        index += 1
    return json.loads("".join(out))


class Calendar:
    """README dates onto real ones, and the placeholders bound to real values so far."""

    def __init__(self, real_today: dt.date) -> None:
        self.shift = real_today - README_TODAY
        self.bound: dict[str, str] = {}

    def day(self, readme_date: str) -> str:
        return (dt.date.fromisoformat(readme_date) + self.shift).isoformat()

    def command(self, text: str) -> str:
        for placeholder, value in self.bound.items():
            text = text.replace(placeholder, value)
        return DATE.sub(lambda m: self.day(m[0]), text)


def compare(expected: Any, actual: Any, calendar: Calendar, path: str = "") -> list[str]:
    """What differs between a documented answer and the real one, each naming the field."""
    at = path or "the answer"
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{at}: README shows an object, the service answers {actual!r}"]
        problems: list[str] = []
        for key, value in expected.items():
            if key.startswith(MORE):
                continue
            field = f"{path}.{key}" if path else key
            if key not in actual:
                problems.append(f"{field}: in the README, not in the answer")
            else:
                problems += compare(value, actual[key], calendar, field)
        extra = sorted(set(actual) - set(expected))
        if extra and not any(key.startswith(MORE) for key in expected):
            problems.append(f"{at}: {extra} answered, not in the README (or add `...`)")
        return problems
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [f"{at}: README shows a list, the service answers {actual!r}"]
        head, tail = expected, []
        if MORE in expected:
            head = expected[: expected.index(MORE)]
            tail = expected[len(expected) - expected[::-1].index(MORE) :]
            assert MORE not in head + tail, f"{at}: items between two `...` are not supported"
        if (MORE in expected and len(actual) < len(head) + len(tail)) or (
            MORE not in expected and len(actual) != len(expected)
        ):
            return [f"{at}: {len(actual)} items answered, README shows {len(head) + len(tail)}"]
        problems = []
        for offset, item in enumerate(head):
            problems += compare(item, actual[offset], calendar, f"{path}[{offset}]")
        for offset, item in enumerate(tail, len(actual) - len(tail)):
            problems += compare(item, actual[offset], calendar, f"{path}[{offset}]")
        return problems
    if isinstance(expected, str) and "..." in expected:
        if not isinstance(actual, str):
            return [f"{at}: README shows a string, the service answers {actual!r}"]
        if expected != "...":
            calendar.bound[expected] = actual
        return []
    if isinstance(expected, str) and DATE.fullmatch(expected):
        expected = calendar.day(expected)
    if type(expected) is not type(actual) or expected != actual:
        return [f"{at}: README shows {json.dumps(expected)}, the service answers {actual!r}"]
    return []


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes | None


def request_of(command: str) -> Request:
    """The HTTP request curl sends for `command` (the options the README uses)."""
    tokens = shlex.split(command.replace("\\\n", " "), comments=True)
    stdin = b""
    if "|" in tokens:
        producer, tokens = tokens[: tokens.index("|")], tokens[tokens.index("|") + 1 :]
        assert producer[0] == "printf" and len(producer) == 2, producer
        stdin = producer[1].encode().decode("unicode_escape").encode()
    assert tokens[0] == "curl", tokens
    method, url, body = "", "", None
    headers = {"Accept": "*/*"}
    options = iter(tokens[1:])
    for token in options:
        if token in ("-X", "--request"):
            method = next(options)
        elif token in ("-H", "--header"):
            name, _, value = next(options).partition(":")
            headers[name.strip()] = value.strip()
        elif token in ("-d", "--data", "--data-binary", "--data-raw"):
            value = next(options)
            if value == "@-":
                body = stdin
            elif value.startswith("@") and token != "--data-raw":
                body = (PROJECT_ROOT / value[1:]).read_bytes()
            else:
                body = value.encode()
        elif token in ("-o", "--output"):
            next(options)
        elif token.startswith(LOCAL):
            url = token
        elif token not in ("-s", "--silent", "-S", "-i", "--include"):
            raise AssertionError(f"a curl option the test does not know: {token}")
    if body is not None and "content-type" not in {name.lower() for name in headers}:
        headers["Content-Type"] = "application/x-www-form-urlencoded"  # as curl -d sends it
    return Request(
        method or ("POST" if body is not None else "GET"), url[len(LOCAL) :] or "/", headers, body
    )


def problems_of(example: Example, status: int, body: Any, calendar: Calendar) -> list[str]:
    """What differs between the real (status, body) and `example`'s documented answer, each
    naming the example (its line in README.md) and the field."""
    problems = []
    if not example.answered:
        problems = [] if status < 400 else [f"status {status}: {body}"]
    else:
        if example.status is not None and status != example.status:
            problems.append(f"status: README shows {example.status}, the service answers {status}")
        error = isinstance(example.answer, dict) and "error" in example.answer
        if example.status is None and not (400 <= status < 500 if error else 200 <= status < 300):
            problems.append(
                f"status {status} for an answer that is {'' if error else 'not '}an error"
            )
        problems += compare(example.answer, body, calendar)
    return [f"{example.where()}: {problem}" for problem in problems]
