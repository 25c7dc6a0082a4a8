"""GET the leaderboard: ?days=N&limit=K&metric=achievement|deliveries|revenue."""

from __future__ import annotations

import flask
import functions_framework

from shared import history
from shared.db import get_engine
from shared.http import Reply, endpoint, parse_query
from shared.models import TopPerformersQuery
from shared.settings import get_settings


@functions_framework.http
@endpoint("GET")
def top_performers(request: flask.Request) -> Reply:
    query = parse_query(request, TopPerformersQuery)
    return history.top_performers(
        get_engine(),
        days=query.days,
        limit=query.limit,
        metric=query.metric,
        timezone=get_settings().fleet_timezone,
    )
