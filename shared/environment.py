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


def _names(field_name: str, alias: Any, prefix: str) -> list[str]:
    """The input keys a field reads, each being also its variable's name in lower case."""
    if isinstance(alias, AliasChoices):
        return [choice for choice in alias.choices if isinstance(choice, str)]
    if isinstance(alias, str):
        return [alias]
    return [f"{prefix}{field_name}"]


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
            for name in _names(field_name, field.validation_alias, prefix):
                value = environ.get(name.lower())
                if value is not None:
                    # Under the prefixed name only when it is an alias; else the field's own.
                    key = name if field.validation_alias is not None else field_name
                    found[key] = value
        return {**found, **values}
