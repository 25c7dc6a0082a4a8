"""The README's error table lists every error code the service can answer (issue 16, point 15):
the codes are read out of the source, not listed again here."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.helpers import PROJECT_ROOT

SOURCES = [*(PROJECT_ROOT / "shared").rglob("*.py"), *(PROJECT_ROOT / "functions").glob("*.py")]
CODE = re.compile(r"[a-z][a-z_]+")


def _codes_in(source: Path) -> set[str]:
    """String constants given as `code=...`, assigned to `default_code`, or named as the code of
    a translated SQLSTATE (`(errors.X, "code", field)` in shared/db/translate.py), plus the
    wrapper's own `{"code": "internal"}`."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.keyword) and node.arg == "code":
            value = node.value
        elif isinstance(node, ast.AnnAssign | ast.Assign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if not any(isinstance(t, ast.Name) and t.id == "default_code" for t in targets):
                continue
            value = node.value
        elif isinstance(node, ast.Tuple) and len(node.elts) == 3:
            first = node.elts[0]
            if not (isinstance(first, ast.Attribute) and isinstance(first.value, ast.Name)):
                continue
            if first.value.id != "errors":
                continue
            value = node.elts[1]
        elif isinstance(node, ast.Dict):
            pairs = zip(node.keys, node.values, strict=True)
            value = next(
                (v for k, v in pairs if isinstance(k, ast.Constant) and k.value == "code"), None
            )
        else:
            continue
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            found.add(value.value)
    return found


def _readme_table() -> str:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("| status | when |")
    return readme[start : readme.index("\n\n", start)]


def test_the_source_answers_the_codes_this_test_knows_to_look_for() -> None:
    codes = set().union(*map(_codes_in, SOURCES))
    assert {"invalid_input", "internal", "no_such_day", "unsafe_url", "batch_too_large"} <= codes
    assert all(CODE.fullmatch(code) for code in codes), sorted(codes)


def test_the_readme_error_table_lists_every_code() -> None:
    table = _readme_table()
    listed = set(re.findall(r"`([a-z][a-z_]+)`", table))
    missing = sorted(set().union(*map(_codes_in, SOURCES)) - listed)
    assert not missing, f"README's error table leaves out: {', '.join(missing)}"
