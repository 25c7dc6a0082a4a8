"""The OpenAPI document of every function, shipped as package data (shared/web/openapi.yaml)."""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The OpenAPI document shipped as package data (shared/openapi.yaml)."""
    import yaml

    text = resources.files("shared.web").joinpath("openapi.yaml").read_text(encoding="utf-8")
    document: dict[str, Any] = yaml.safe_load(text)
    return document
