"""GET a driver's closed days: ?driver_id=X&days=N (1..366, default 30), newest first."""

from __future__ import annotations

import flask
import functions_framework

from shared import history
from shared.db import get_engine
from shared.http import Reply, endpoint, parse_query
from shared.models import HistoryQuery
from shared.settings import get_settings


@functions_framework.http
@endpoint("GET")
def get_history(request: flask.Request) -> Reply:
    query = parse_query(request, HistoryQuery)
    return history.driver_history(
        get_engine(), query.driver_id, days=query.days, timezone=get_settings().fleet_timezone
    )
