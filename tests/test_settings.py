"""Settings read from the environment (shared.environment): a variable per field, its name's
case ignored, a value passed in winning; one password setting under either of its two names."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.db.connect import local_params
from shared.settings import Settings


@pytest.mark.parametrize("name", ["DB_PASS", "DB_PASSWORD"])
def test_either_name_sets_the_one_password(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv(name, "s3cret")
    settings = Settings()
    assert settings.db_pass is not None and settings.db_pass.get_secret_value() == "s3cret"
    assert local_params(settings)["password"] == "s3cret"


def test_db_pass_wins_when_both_are_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_PASS", "from-secret-manager")
    monkeypatch.setenv("DB_PASSWORD", "legacy")
    settings = Settings()
    assert settings.db_pass is not None
    assert settings.db_pass.get_secret_value() == "from-secret-manager"


def test_no_password_means_none_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("DB_PASS", raising=False)
    monkeypatch.delenv("DB_PASSWORD", raising=False)
    assert "password" not in local_params(Settings())


def test_a_variable_is_read_in_any_case_and_as_its_fields_type(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("db_port", "6543")
    monkeypatch.setenv("Migrate_On_Start", "false")
    monkeypatch.setenv("DB_POOL_TIMEOUT", "2.5")
    settings = Settings()
    assert (settings.db_port, settings.migrate_on_start, settings.db_pool_timeout) == (
        6543,
        False,
        2.5,
    )


def test_a_value_passed_in_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_NAME", "from_env")
    assert Settings(db_name="passed").db_name == "passed"
    assert Settings().db_name == "from_env"


def test_nested_settings_read_their_own_prefixed_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AUTH_MODE", "jwt")
    monkeypatch.setenv("AUTH_ISSUER", "https://securetoken.google.com/p")
    monkeypatch.setenv("AUTH_AUDIENCE", "p")
    monkeypatch.setenv("AUTH_JWKS_URL", "https://example.test/jwks")
    monkeypatch.setenv("AUTH_GOOGLE_AUDIENCE", "https://a.test, https://b.test")
    # The nested classes' fields are not read unprefixed: MODE is nobody's variable.
    monkeypatch.setenv("MODE", "off")
    monkeypatch.setenv("CONSOLE_IDENTITY_API_KEY", "AIza-key_1")
    settings = Settings()
    assert settings.auth.mode == "jwt"
    assert settings.auth.google_audience == ("https://a.test", "https://b.test")
    assert settings.console.identity_api_key == "AIza-key_1"


def test_a_bad_variable_names_its_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_PORT", "five")
    with pytest.raises(ValidationError, match="db_port"):
        Settings()
