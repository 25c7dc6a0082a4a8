"""Settings read from the environment: one password setting under either of its two names."""

from __future__ import annotations

import pytest

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
