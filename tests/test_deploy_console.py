"""The deploy hands the console its sign-in: Identity Platform's Web API key, on the console
function only (the page gives it to the browser), and none when no key is given."""

from __future__ import annotations

import pytest

from tests.helpers import run_deploy
from tests.test_deploy import BASE_ARGS, deploys, dry_run, env_vars

KEY = "AIzaSyExample-console_key"

pytestmark = pytest.mark.slow


def test_the_key_goes_to_the_console_only() -> None:
    functions = deploys(dry_run("--identity-api-key", KEY))
    assert env_vars(functions["console"])["CONSOLE_IDENTITY_API_KEY"] == KEY
    others = [name for name, c in functions.items() if "CONSOLE_IDENTITY_API_KEY" in env_vars(c)]
    assert others == ["console"]


@pytest.mark.parametrize("extra", [[], ["--identity-api-key="]])
def test_without_a_key_the_console_asks_for_a_token(extra: list[str]) -> None:
    """An empty key (cloudbuild.yaml's default substitution) is no key."""
    functions = deploys(dry_run(*extra))
    assert "CONSOLE_IDENTITY_API_KEY" not in env_vars(functions["console"])


def test_a_key_that_is_not_one_stops_the_plan() -> None:
    result = run_deploy(*BASE_ARGS, "--dry-run", "--identity-api-key", "AIza key")
    assert result.returncode == 2 and "--identity-api-key" in result.stderr
