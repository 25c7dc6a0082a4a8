"""POST by Cloud Scheduler: close one business day into history and start the next.

The day is the body's "date", else the day before X-CloudScheduler-ScheduleTime (else now) in
FLEET_TIMEZONE, so a retried delivery of the same scheduled run names the same day and finds it
already done.
"""

from __future__ import annotations

import datetime as dt

import flask
import functions_framework

from shared.db.instance import get_engine
from shared.errors import InvalidInput
from shared.fleet.days import snapshot
from shared.fleet.days.requests import SnapshotRequest
from shared.settings import get_settings
from shared.web.body import parse, read_json
from shared.web.endpoint import Reply, endpoint

SCHEDULE_TIME_HEADER = "X-CloudScheduler-ScheduleTime"


def _schedule_time(request: flask.Request) -> dt.datetime | None:
    raw = request.headers.get(SCHEDULE_TIME_HEADER)
    if not raw:
        return None
    try:
        moment = dt.datetime.fromisoformat(raw)
    except ValueError as exc:
        raise InvalidInput(
            f"{SCHEDULE_TIME_HEADER} is not an RFC 3339 time", field=SCHEDULE_TIME_HEADER
        ) from exc
    if moment.tzinfo is None:
        raise InvalidInput(f"{SCHEDULE_TIME_HEADER} needs a UTC offset", field=SCHEDULE_TIME_HEADER)
    # Years 1 and 9999 overflow once shifted to the fleet's zone and back a day.
    if not dt.MINYEAR < moment.year < dt.MAXYEAR:
        raise InvalidInput(f"{SCHEDULE_TIME_HEADER} is out of range", field=SCHEDULE_TIME_HEADER)
    return moment


@functions_framework.http
@endpoint
def snapshot_daily(request: flask.Request) -> Reply:
    body = read_json(request, allow_empty=True)
    # Only an empty body means "no options": [], 0, false and "" are not a JSON object.
    command = parse(SnapshotRequest, {} if body is None else body)
    settings = get_settings()
    date = command.date or snapshot.default_date(_schedule_time(request), settings.fleet_timezone)
    return snapshot.nightly(
        get_engine(),
        date=date,
        reset=command.reset,
        settings=settings,
        by_hand=command.date is not None,
    )
