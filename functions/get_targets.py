"""GET one driver (?driver_id=X) or a page of drivers (?limit=&after=&status=)."""

from __future__ import annotations

import flask
import functions_framework

from shared import targets
from shared.db import get_engine
from shared.http import Reply, endpoint, parse_query
from shared.models import TargetsQuery
from shared.settings import get_settings


@functions_framework.http
@endpoint("GET")
def get_targets(request: flask.Request) -> Reply:
    query = parse_query(request, TargetsQuery)
    timezone = get_settings().fleet_timezone
    if query.driver_id is not None:
        return targets.get_driver(get_engine(), query.driver_id, timezone=timezone)
    return targets.list_drivers(
        get_engine(), timezone=timezone, limit=query.limit, after=query.after, status=query.status
    )
