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

from shared import registry
from shared.fleet.boards.replies import TeamsReply, TopPerformersReply
from shared.fleet.days.replies import SnapshotReply
from shared.fleet.history.replies import HistoryReply, LedgerReply
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
    LedgerReply,
    TopPerformersReply,
    TeamsReply,
    SnapshotReply,
    WebhookSubscriptionCreated,
    WebhookSubscriptionList,
    WebhookDeleted,
    DeliveryRunReply,
)
SCHEMAS_REF = "#/components/schemas/{model}"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch")


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
    _declare_access(document)
    return document


# Who may call, declared for every operation from shared.registry's roles (the one place that
# says it), so the document cannot drift from what the functions enforce.
_BEARER = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "JWT",
    "description": "An Identity Platform (Firebase) ID token, the role in its custom claims"
    " `fleet_role` (driver, dispatcher, admin), `driver_id` and `teams`; or a Google-signed"
    " token of a service account given a role by AUTH_SERVICE_ACCOUNTS (the scheduler's OIDC"
    " token). Behind API Gateway the caller's token arrives in X-Forwarded-Authorization."
    " Checked with AUTH_MODE=jwt; with AUTH_MODE=off (local) every caller is an admin.",
}
_ERROR_CONTENT = {"application/json": {"schema": {"$ref": SCHEMAS_REF.format(model="Error")}}}
_ACCESS_RESPONSES = {
    "Unauthenticated": {
        "description": "No bearer token, or one that does not verify (signature, issuer,"
        " audience, expiry with 60 s of leeway) or carries no known role (`unauthenticated`).",
        "headers": {
            "WWW-Authenticate": {
                "description": '`Bearer realm="fleet-targets"`, with `error="invalid_token"`'
                " and an `error_description` when a token was sent (RFC 6750).",
                "schema": {"type": "string"},
            }
        },
        "content": _ERROR_CONTENT,
    },
    "Forbidden": {
        "description": "The caller's role may not call this, or not for this driver or team"
        " (`forbidden`); the message names the rule and nothing was written. For a dispatcher,"
        " a driver outside their teams and one that does not exist are the same 403.",
        "content": _ERROR_CONTENT,
    },
}


def _declare_access(document: dict[str, Any]) -> None:
    """The bearer scheme as the document's `security`; each operation's roles in
    `x-fleet-roles` and its 401 and 403 replies; a function open to all (roles None) says
    `security: []`."""
    components = document["components"]
    components.setdefault("securitySchemes", {})["bearer"] = copy.deepcopy(_BEARER)
    components["responses"].update(copy.deepcopy(_ACCESS_RESPONSES))
    document["security"] = [{"bearer": []}]
    for path, item in document["paths"].items():
        roles = registry.function(path.lstrip("/").split("/")[0]).roles
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            if roles is None:
                operation["security"] = []
                continue
            operation["x-fleet-roles"] = list(roles)
            operation["responses"]["401"] = {"$ref": "#/components/responses/Unauthenticated"}
            operation["responses"]["403"] = {"$ref": "#/components/responses/Forbidden"}
