"""GET a driver's closed days, newest first: ?driver_id=X and either days=N (1..366, default 30)
or from=YYYY-MM-DD&to=YYYY-MM-DD (inclusive, at most 366 days); JSON or CSV (format=csv or
Accept: text/csv)."""

from __future__ import annotations

import flask
import functions_framework

from shared import csv_export, history
from shared.db import get_engine
from shared.http import Reply, endpoint, parse_query
from shared.models import HistoryQuery
from shared.settings import get_settings


@functions_framework.http
@endpoint("GET")
def get_history(request: flask.Request) -> Reply:
    query = parse_query(request, HistoryQuery)
    engine = get_engine()
    start, end = window = query.window(
        history.business_today(engine, get_settings().fleet_timezone)
    )
    rows = history.driver_history(engine, query.driver_id, window=window)
    if csv_export.wants_csv(request, query.format):
        return csv_export.csv_response(history.HISTORY_FIELDS, rows, filename="history.csv")
    return {
        "driver_id": query.driver_id,
        "days": query.days,
        "from": start,
        "to": end,
        "history": rows,
    }
