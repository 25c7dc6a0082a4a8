"""The base of every request model: bodies and query strings refuse unknown fields."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Body(BaseModel):
    """A JSON body."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Query(BaseModel):
    """Query strings: values arrive as text, unknown parameters are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# PostgreSQL text cannot hold NUL.
NO_NUL = r"^[^\x00]*$"
