"""What snapshot_daily accepts."""

from __future__ import annotations

from pydantic import StrictBool

from shared.fleet.fields import IsoDate
from shared.validation import Body


class SnapshotRequest(Body):
    date: IsoDate | None = None
    reset: StrictBool = True
