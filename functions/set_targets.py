"""POST a batch of drivers' daily targets: a bare JSON array or {"drivers": [...]}, or a CSV
with a header row (Content-Type text/csv; shared.fleet.targets.csv_input)."""

from __future__ import annotations

import flask
import functions_framework

from shared.auth.scope import current_scope
from shared.db.instance import get_engine
from shared.errors import InvalidInput, PayloadTooLarge
from shared.fleet.targets import operations as targets
from shared.fleet.targets.csv_input import parse_targets_csv
from shared.fleet.targets.requests import MAX_TARGET_BATCH, SetTargetsRequest
from shared.settings import get_settings
from shared.web.body import parse, read_json, refuse_large_batch
from shared.web.endpoint import Reply, endpoint


@functions_framework.http
@endpoint
def set_targets(request: flask.Request) -> Reply:
    if request.mimetype == "text/csv":
        batch = parse_targets_csv(_csv_body(request))
    else:
        body = read_json(request, array_key="drivers")
        if not isinstance(body, dict):
            raise InvalidInput(
                'send a JSON array of drivers or {"drivers": [...]}', field="drivers"
            )
        refuse_large_batch(body, "drivers", limit=MAX_TARGET_BATCH, noun="drivers")
        batch = parse(SetTargetsRequest, body)
    count = targets.set_targets(
        get_engine(),
        batch.drivers,
        timezone=get_settings().fleet_timezone,
        scope=current_scope(),
    )
    return {"count": count}


def _csv_body(request: flask.Request) -> bytes:
    """The CSV's bytes within MAX_BODY_BYTES, as for JSON bodies."""
    limit = get_settings().max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"the body is over {limit} bytes")
    body: bytes = request.stream.read(limit + 1)
    if len(body) > limit:
        raise PayloadTooLarge(f"the body is over {limit} bytes")
    return body
