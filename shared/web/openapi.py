"""The OpenAPI document of every function: shared/web/openapi.yaml (paths, parameters, request
schemas, descriptions; package data) with the replies' schemas generated from their models."""

from __future__ import annotations

import copy
import functools
from importlib import resources
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from shared.fleet.boards.replies import TeamsReply, TopPerformersReply
from shared.fleet.days.replies import SnapshotReply
from shared.fleet.history.replies import HistoryReply
from shared.fleet.progress.replies import ProgressBatchReply, ProgressResult
from shared.fleet.targets.replies import CountReply, DriverPage, DriverProgress, FleetSummary
from shared.web.replies import Error
from shared.webhooks.replies import (
    DeliveryRunReply,
    WebhookDeleted,
    WebhookSubscriptionCreated,
    WebhookSubscriptionList,
)

# Every reply the functions give; the models they nest are generated with them.
REPLY_MODELS: tuple[type[BaseModel], ...] = (
    Error,
    CountReply,
    DriverProgress,
    DriverPage,
    FleetSummary,
    ProgressResult,
    ProgressBatchReply,
    HistoryReply,
    TopPerformersReply,
    TeamsReply,
    SnapshotReply,
    WebhookSubscriptionCreated,
    WebhookSubscriptionList,
    WebhookDeleted,
    DeliveryRunReply,
)
SCHEMAS_REF = "#/components/schemas/{model}"


class _ReplySchema(GenerateJsonSchema):
    """JSON Schema 2020-12 (what OpenAPI 3.1 uses) without pydantic's titles, which only repeat
    the names, and without defaults: a reply has none, a default marks a key that may be absent
    (movement without compare, is_viewer without a viewer)."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        return self.generate_inner(schema["schema"])


def reply_schemas() -> dict[str, Any]:
    """components/schemas for REPLY_MODELS (and what they nest), keyed by model name."""
    from pydantic.json_schema import models_json_schema

    _, generated = models_json_schema(
        [(model, "serialization") for model in REPLY_MODELS],
        ref_template=SCHEMAS_REF,
        schema_generator=_ReplySchema,
    )
    schemas: dict[str, Any] = generated["$defs"]
    for schema in schemas.values():
        schema.pop("title", None)
    return schemas


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The yaml with the generated reply schemas added to components/schemas."""
    import yaml

    text = resources.files("shared.web").joinpath("openapi.yaml").read_text(encoding="utf-8")
    document: dict[str, Any] = yaml.safe_load(text)
    written = document["components"]["schemas"]
    generated = reply_schemas()
    clash = sorted(written.keys() & generated.keys())
    if clash:
        raise RuntimeError(f"openapi.yaml writes schemas that are generated from models: {clash}")
    written.update(copy.deepcopy(generated))
    return document
