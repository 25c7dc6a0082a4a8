"""Webhook subscriptions: POST one (its secret is in this answer only), GET the list with
delivery counts (never a secret), DELETE ?id= one (its undelivered events are dropped)."""

from __future__ import annotations

import flask
import functions_framework

from shared import webhooks
from shared.db import get_engine
from shared.http import Reply, endpoint, parse, parse_query, read_json
from shared.models import WebhookDeleteQuery, WebhookListQuery, WebhookSubscriptionRequest
from shared.settings import get_settings


@functions_framework.http
@endpoint("GET", "POST", "DELETE")
def manage_webhooks(request: flask.Request) -> Reply:
    if request.method == "POST":
        command = parse(WebhookSubscriptionRequest, read_json(request))
        created = webhooks.create_subscription(
            get_engine(),
            url=command.url,
            events=command.events,
            description=command.description,
            allow_loopback_http=get_settings().webhooks_allow_loopback_http,
        )
        return created, 201
    if request.method == "DELETE":
        query = parse_query(request, WebhookDeleteQuery)
        webhooks.delete_subscription(get_engine(), query.id)
        return {"deleted": query.id}
    parse_query(request, WebhookListQuery)
    return {"subscriptions": webhooks.list_subscriptions(get_engine())}
