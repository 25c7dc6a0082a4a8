"""GET one driver (?driver_id=X), a page of drivers (?limit=&after=&status=&team=), the whole
list as CSV (format=csv or Accept: text/csv; every matching driver, streamed), or the open day's
summary (?summary=true[&team=])."""

from __future__ import annotations

import flask
import functions_framework

from shared.auth.scope import current_scope
from shared.db.instance import get_engine
from shared.fleet.targets import export, summary
from shared.fleet.targets import operations as targets
from shared.fleet.targets.replies import DriverProgress
from shared.fleet.targets.requests import TargetsQuery
from shared.settings import get_settings
from shared.web import csv_reply
from shared.web.body import parse_query
from shared.web.endpoint import Reply, endpoint
from shared.web.replies import field_names


@functions_framework.http
@endpoint
def get_targets(request: flask.Request) -> Reply:
    query = parse_query(request, TargetsQuery)
    timezone = get_settings().fleet_timezone
    scope = current_scope()
    if query.summary:
        return summary.fleet_summary(get_engine(), timezone=timezone, team=query.team, scope=scope)
    as_csv = csv_reply.wants_csv(request, query.format)
    if query.driver_id is not None:
        driver = targets.get_driver(get_engine(), query.driver_id, timezone=timezone, scope=scope)
        if as_csv:
            return csv_reply.csv_response(
                get_engine(), DriverProgress, [driver], filename="driver.csv"
            )
        return driver
    if as_csv:
        lines = export.export_drivers_csv(
            get_engine(), timezone=timezone, status=query.status, team=query.team, scope=scope
        )
        return csv_reply.csv_lines_response(
            field_names(DriverProgress), csv_reply.primed(lines), filename="drivers.csv"
        )
    return targets.list_drivers(
        get_engine(),
        timezone=timezone,
        limit=query.limit,
        after=query.after,
        status=query.status,
        team=query.team,
        scope=scope,
    )
