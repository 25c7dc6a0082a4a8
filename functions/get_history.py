"""GET a driver's closed days, newest first: ?driver_id=X and either days=N (1..366, default 30)
or from=YYYY-MM-DD&to=YYYY-MM-DD (inclusive, at most 366 days); JSON or CSV (format=csv or
Accept: text/csv)."""

from __future__ import annotations

import flask
import functions_framework

from shared.db.instance import get_engine
from shared.fleet import calendar
from shared.fleet.history import operations as history
from shared.fleet.history.replies import HistoryDay
from shared.fleet.history.requests import HistoryQuery
from shared.settings import get_settings
from shared.web import csv_reply
from shared.web.body import parse_query
from shared.web.endpoint import Reply, endpoint


@functions_framework.http
@endpoint
def get_history(request: flask.Request) -> Reply:
    query = parse_query(request, HistoryQuery)
    engine = get_engine()
    start, end = window = query.window(
        calendar.business_today(engine, get_settings().fleet_timezone)
    )
    rows = history.driver_history(engine, query.driver_id, window=window)
    if csv_reply.wants_csv(request, query.format):
        return csv_reply.csv_response(engine, HistoryDay, rows, filename="history.csv")
    return {
        "driver_id": query.driver_id,
        "days": query.days,
        "from": start,
        "to": end,
        "history": rows,
    }
