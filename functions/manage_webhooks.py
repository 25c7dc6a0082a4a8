"""Webhook subscriptions: POST one (its secret is in this answer only), GET the list with
delivery counts (never a secret), DELETE ?id= one (its undelivered events are dropped)."""

from __future__ import annotations

import flask
import functions_framework

from shared.db.instance import get_engine
from shared.settings import get_settings
from shared.web.body import parse, parse_query, read_json
from shared.web.endpoint import Reply, endpoint
from shared.webhooks import subscriptions
from shared.webhooks.requests import (
    WebhookDeleteQuery,
    WebhookListQuery,
    WebhookSubscriptionRequest,
)


@functions_framework.http
@endpoint
def manage_webhooks(request: flask.Request) -> Reply:
    if request.method == "POST":
        command = parse(WebhookSubscriptionRequest, read_json(request))
        created = subscriptions.create_subscription(
            get_engine(),
            url=command.url,
            events=command.events,
            description=command.description,
            allow_loopback_http=get_settings().webhooks_allow_loopback_http,
        )
        return created, 201
    if request.method == "DELETE":
        query = parse_query(request, WebhookDeleteQuery)
        subscriptions.delete_subscription(get_engine(), query.id)
        return {"deleted": query.id}
    parse_query(request, WebhookListQuery)
    return {"subscriptions": subscriptions.list_subscriptions(get_engine())}
