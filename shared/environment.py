"""Settings read from the environment: pydantic models whose fields default to environment
variables.

A field's variable is its name in upper case after the class's `env_prefix` (AUTH_MODE), or,
for a field with validation aliases, each alias as it stands (DB_PASS, then DB_PASSWORD: the
first one set wins, as the aliases' order says). Names match in any case. A variable's text is
validated like any other input (pydantic's lax mode reads "5432", "true", "1.5"), and a value
passed to the class wins over the environment. Nested settings (fields whose type is another
of these classes) read their own variables.

This is what the service used of pydantic-settings, which it replaced: that library's import
(python-dotenv, its secret-manager and command-line sources) took ~10 ms of every cold start
here (bench cold_start: 316-320 ms without it, 325-335 ms with it), for a feature that fits in
this module.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

from pydantic import AliasChoices, BaseModel, ConfigDict, model_validator


def _variables(field_name: str, alias: Any, prefix: str) -> list[tuple[str, str]]:
    """(input key, variable name) for each variable a field reads, in the order they win."""
    if isinstance(alias, AliasChoices):
        return [(choice, choice) for choice in alias.choices if isinstance(choice, str)]
    if isinstance(alias, str):
        return [(alias, alias)]
    return [(field_name, f"{prefix}{field_name}")]


class EnvironmentSettings(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    env_prefix: ClassVar[str] = ""

    @model_validator(mode="before")
    @classmethod
    def _from_environment(cls, values: Any) -> Any:
        if not isinstance(values, dict):
            return values
        environ = {name.lower(): value for name, value in os.environ.items()}
        prefix = cls.env_prefix.lower()
        found: dict[str, str] = {}
        for field_name, field in cls.model_fields.items():
            if isinstance(field.annotation, type) and issubclass(
                field.annotation, EnvironmentSettings
            ):
                continue
            for key, variable in _variables(field_name, field.validation_alias, prefix):
                value = environ.get(variable.lower())
                if value is not None:
                    found[key] = value
        return {**found, **values}
