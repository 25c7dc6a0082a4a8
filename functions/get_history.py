"""GET a driver's closed days, newest first: ?driver_id=X and either days=N (1..366, default 30)
or from=YYYY-MM-DD&to=YYYY-MM-DD (inclusive, at most 366 days); JSON or CSV (format=csv or
Accept: text/csv). With ledger=true, the driver's audit instead: who set their targets and who
sent each ledgered event received in the window (admins and dispatchers)."""

from __future__ import annotations

import flask
import functions_framework

from shared.auth.scope import current_scope
from shared.db.instance import get_engine
from shared.fleet import calendar
from shared.fleet.history import ledger
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
    settings = get_settings()
    timezone = settings.fleet_timezone
    scope = current_scope()
    start, end = window = query.window(calendar.business_today(engine, timezone))
    answer = {"driver_id": query.driver_id, "days": query.days_used, "from": start, "to": end}
    if query.ledger:
        audit = ledger.driver_ledger(
            engine, query.driver_id, window=window, timezone=timezone, scope=scope
        )
        return {**answer, **audit}
    rows = history.driver_history(
        engine,
        query.driver_id,
        window=window,
        rate_min_seconds=settings.rate_min_active_seconds,
        scope=scope,
    )
    if csv_reply.wants_csv(request, query.format):
        return csv_reply.csv_response(engine, HistoryDay, rows, filename="history.csv")
    return {**answer, "history": rows}
