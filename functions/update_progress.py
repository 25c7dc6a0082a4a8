"""POST one progress event, or {"events": [...]} applied all or nothing. A driver sends only
their own events, a dispatcher their teams' drivers'; a batch with one event that is not the
caller's writes nothing."""

from __future__ import annotations

import flask
import functions_framework

from shared.auth.scope import current_scope
from shared.db.instance import get_engine
from shared.errors import InvalidInput
from shared.fleet.progress import operations as progress
from shared.fleet.progress.requests import MAX_EVENT_BATCH, ProgressBatch, ProgressEvent
from shared.settings import get_settings
from shared.web.body import parse, read_json, refuse_large_batch
from shared.web.endpoint import Reply, endpoint


@functions_framework.http
@endpoint
def update_progress(request: flask.Request) -> Reply:
    body = read_json(request)
    if not isinstance(body, dict):
        raise InvalidInput('send a JSON object: one event, or {"events": [...]}')
    settings = get_settings()
    scope = current_scope()
    if "events" in body:
        refuse_large_batch(body, "events", limit=MAX_EVENT_BATCH, noun="events")
        batch = parse(ProgressBatch, body)
        results = progress.record_progress(
            get_engine(),
            batch.events,
            timezone=settings.fleet_timezone,
            late_days=settings.late_event_days,
            scope=scope,
            batch_field="events",
        )
        return {"count": len(results), "results": results}
    event = parse(ProgressEvent, body)
    (result,) = progress.record_progress(
        get_engine(),
        [event],
        timezone=settings.fleet_timezone,
        late_days=settings.late_event_days,
        scope=scope,
    )
    return result
