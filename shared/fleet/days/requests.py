"""What snapshot_daily accepts."""

from __future__ import annotations

import datetime as dt

from pydantic import (
    StrictBool,
)

from shared.validation import Body


class SnapshotRequest(Body):
    date: dt.date | None = None
    reset: StrictBool = True
