"""prune_10m: the nightly pruning of 10,000,000 expired ledger rows (issue 15).

A database of its own (`bench_prune`, dropped at the end) holds 10M progress events received 40
days ago, a day's worth spread over 24 h, then 100,000 received today, loaded with one
`INSERT ... SELECT generate_series` each and `VACUUM ANALYZE`d like an aged table. The event ids
are in load order, which makes the primary key's build an append: the pruning reads no index.

- floor: the same deletion raw, one `DELETE ... WHERE received_at < cutoff` through pg8000, timed
  to its return and rolled back, so the same rows are there for ours.
- ours: `POST /snapshot_daily` to `fleet serve` on that database, the service's nightly path (the
  day it closes is empty); the rows its reply says it pruned, per second of the call.

Goal: all 10M pruned within 300 s (no `carried_over`), today's 100,000 still there, and ours at
least half the floor's rate. Details: the seconds each took; `sweep_pages_per_s`, the service's
pruning (shared.fleet.days.retention.prune, in this process) run first with a retention of 100
days, which deletes nothing and reads every page: the cost of the pages a night keeps; and
`vacuum_s`, a `VACUUM` of the ledger after ours (what autovacuum does later with the dead rows).
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from bench.report import Result
from bench.stack import FleetServer, Postgres, connect, migrate, run_sql, scalar
from shared.db.engine import build_engine
from shared.fleet.days import retention
from shared.settings import Settings

EXPIRED = 10_000_000
KEPT = 100_000
NIGHT_SECONDS = 300.0

# `count` events from number `first` on, received over the 24 h starting `days_ago` days ago.
_LOAD = """
INSERT INTO progress_events
    (event_id, driver_id, business_date, deliveries, revenue, status, received_at)
SELECT 'bench-' || lpad(CAST(i AS text), 9, '0'), 'drv' || lpad(CAST(i %% 50000 AS text), 6, '0'),
       CAST(now() AS date) - CAST(%s AS integer), 1, 12.50, NULL,
       now() - make_interval(days => CAST(%s AS integer))
             + make_interval(secs => 86400.0 * (i - %s) / %s)
FROM generate_series(CAST(%s AS integer), CAST(%s AS integer)) AS i
"""

_FLOOR = "DELETE FROM progress_events WHERE received_at < now() - make_interval(days => 30)"


def _load(url: str, *, first: int, count: int, days_ago: int) -> None:
    last = first + count - 1
    run_sql(url, _LOAD, params=(days_ago, days_ago, first, count, first, last))


def _floor(url: str) -> tuple[int, float]:
    conn = connect(url, autocommit=False)
    try:
        cursor = conn.cursor()
        started = time.perf_counter()
        cursor.execute(_FLOOR)
        deleted: int = cursor.rowcount
        elapsed = time.perf_counter() - started
        conn.rollback()
    finally:
        conn.close()
    return deleted, elapsed


def _sweep(url: str) -> float:
    """Pages per second of a pruning run that finds nothing expired."""
    bundle = build_engine(Settings(database_url=url))
    try:
        started = time.perf_counter()
        pruned = retention.prune(bundle.engine, event_days=100, webhook_days=100)
        elapsed = time.perf_counter() - started
    finally:
        bundle.close()
    if pruned != {"progress_events": 0, "webhook_events": 0}:
        raise RuntimeError(f"the sweep pruned {pruned}")
    pages = scalar(url, retention.LEDGER_PAGES_SQL)
    return float(pages) / elapsed


def _ours(url: str, threads: int, log_path: Path) -> tuple[dict[str, int | bool], float]:
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    server = FleetServer(url, threads=threads, log_path=log_path)
    try:
        client = server.client()
        try:
            started = time.perf_counter()
            status, reply = client.call(
                "POST", "/snapshot_daily", {"date": yesterday.isoformat(), "reset": False}
            )
            elapsed = time.perf_counter() - started
        finally:
            client.close()
    finally:
        server.stop()
    if status != 200:
        raise RuntimeError(f"snapshot_daily answered {status}: {reply}")
    return reply["pruned"], elapsed


def prune_10m(postgres: Postgres, *, threads: int, directory: Path) -> Result:
    url = postgres.create_database("bench_prune")
    try:
        migrate(url)
        load_started = time.perf_counter()
        _load(url, first=1, count=EXPIRED, days_ago=40)
        _load(url, first=EXPIRED + 1, count=KEPT, days_ago=1)
        run_sql(url, "VACUUM ANALYZE progress_events")
        load_s = time.perf_counter() - load_started
        sweep = _sweep(url)
        floor_rows, floor_s = _floor(url)
        pruned, ours_s = _ours(url, threads, directory / "server_prune.log")
        left = scalar(url, "SELECT count(*) FROM progress_events")
        vacuum_started = time.perf_counter()
        run_sql(url, "VACUUM progress_events")
        vacuum_s = time.perf_counter() - vacuum_started
    finally:
        run_sql(postgres.url, "DROP DATABASE IF EXISTS bench_prune")
    ours_rows = int(pruned["progress_events"])
    fits = ours_rows == EXPIRED and not pruned.get("carried_over") and ours_s <= NIGHT_SECONDS
    return Result(
        "prune_10m",
        ours_rows / ours_s,
        floor_rows / floor_s,
        "rows/s",
        (">=", 0.5),
        extra={
            "ours_rows": ours_rows,
            "ours_s": round(ours_s, 2),
            "floor_rows": floor_rows,
            "floor_s": round(floor_s, 2),
            "fits_300_s": fits,
            "kept_rows_left": left,
            "sweep_pages_per_s": round(sweep),
            "vacuum_s": round(vacuum_s, 2),
            "load_s": round(load_s, 1),
        },
        extra_ok=fits and left == KEPT and floor_rows == EXPIRED,
    )
