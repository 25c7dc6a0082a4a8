"""POST by Cloud Scheduler every minute (private, OIDC): send the due webhook deliveries.

Safe to run twice at once or to retry: deliveries are claimed with row locks (SKIP LOCKED) and
a lease, so no delivery is sent by two runs at the same time.
"""

from __future__ import annotations

import flask
import functions_framework

from shared.db.instance import get_engine
from shared.settings import get_settings
from shared.web.body import refuse_query
from shared.web.endpoint import Reply, endpoint
from shared.webhooks import delivery


@functions_framework.http
@endpoint
def deliver_webhooks(request: flask.Request) -> Reply:
    refuse_query(request)
    return delivery.deliver_due(get_engine(), get_settings())
