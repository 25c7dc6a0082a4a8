"""GET a board: drivers (or teams with group_by=team) ranked over a window (days=N, or from/to)
or the open day (live=true), by achievement, deliveries, revenue or per_hour; optionally one
team, movement against the previous window (compare=previous), min_days, and a driver's own view
(viewer=X&anonymize=true; a driver always sees their team's board so). JSON or CSV (format=csv
or Accept: text/csv)."""

from __future__ import annotations

import flask
import functions_framework

from shared.auth.scope import current_scope
from shared.db.instance import get_engine
from shared.fleet import calendar
from shared.fleet.boards import operations as boards
from shared.fleet.boards import viewer as viewers
from shared.fleet.boards.replies import Performer, TeamRank, row_fields
from shared.fleet.boards.requests import TopPerformersQuery
from shared.settings import get_settings
from shared.web import csv_reply
from shared.web.body import parse_query
from shared.web.endpoint import Reply, endpoint


@functions_framework.http
@endpoint
def top_performers(request: flask.Request) -> Reply:
    query = parse_query(request, TopPerformersQuery)
    engine = get_engine()
    settings = get_settings()
    timezone = settings.fleet_timezone
    today = calendar.business_today(engine, timezone)
    start, end = window = (today, today) if query.live else query.window(today)
    scope = current_scope()
    viewer, anonymize = viewers.viewing(scope, query.viewer, query.anonymize)
    rows = boards.board(
        engine,
        window=window,
        group_by=query.group_by,
        metric=query.metric,
        limit=query.limit,
        team=query.team,
        compare=query.compare is not None,
        min_days=query.min_days,
        live=query.live,
        viewer=viewer,
        timezone=timezone,
        rate_min_seconds=settings.rate_min_active_seconds,
        scope=scope,
    )
    if anonymize:
        rows = viewers.anonymized(rows)
    key = "teams" if query.group_by == "team" else "performers"
    if csv_reply.wants_csv(request, query.format):
        fields = row_fields(
            query.group_by, compare=query.compare is not None, viewer=viewer is not None
        )
        model = TeamRank if query.group_by == "team" else Performer
        return csv_reply.csv_response(engine, model, rows, filename=f"top_{key}.csv", fields=fields)
    return {
        "metric": query.metric,
        "group_by": query.group_by,
        "days": None if query.live else query.days_used,
        "from": start,
        "to": end,
        "team": query.team,
        "live": query.live,
        "compare": query.compare,
        "min_days": query.min_days,
        key: rows,
    }
