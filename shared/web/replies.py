"""Reply models: the one declaration of each reply's shape.

A reply is still built from SQL rows and written by json.dumps (pydantic never touches a reply
on the request path: the hot path's speed matters). The models are what the rest is derived
from or checked against: the CSV columns (`field_names`, in declaration order, which is also the
order of the SQL aliases), the OpenAPI schemas (shared.web.openapi fills components/schemas from
them) and tests/test_replies.py, which validates real replies against them.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class ReplyModel(BaseModel):
    # Unknown keys are a disagreement (additionalProperties: false); the validator is built only
    # when a test or the document asks for it, so importing a function stays cheap.
    model_config = ConfigDict(extra="forbid", defer_build=True)


def field_names(model: type[BaseModel]) -> tuple[str, ...]:
    """The model's fields in declaration order: the CSV columns of a row model."""
    return tuple(model.model_fields)


ErrorCode = Annotated[str, Field(pattern="^[a-z_]+$")]


class ErrorDetail(ReplyModel):
    code: ErrorCode
    message: str
    field: str | None = Field(
        description="The field or parameter at fault, e.g. `drivers[1].target_deliveries`."
    )


class Error(ReplyModel):
    """Every error reply (shared.errors.FleetError.to_json), with a stable `code`."""

    error: ErrorDetail
