"""Issue 7's cases: the team board with movement, and the 100,000-driver CSV export.

top_performers_team_compare: `top_performers?team=X&compare=previous` over 100,000 drivers x 30
closed days, against a hand-written SQL that ranks the same team in both windows (through
pg8000). csv_export_100k: the get_targets CSV of 100,000 drivers over HTTP, against
`COPY (same rows) TO STDOUT` through pg8000; the server's resident memory is sampled from
/proc while it streams and must stay flat (grow by less than a quarter of the CSV's size).
"""

from __future__ import annotations

import datetime as dt
import http.client
import io
import statistics
import threading
import time
from pathlib import Path

from bench import sql
from bench.cases import BIG_PREFIX, HISTORY_DAYS, SNAPSHOT_DRIVERS, _expect, _ms_since, today
from bench.report import Result
from bench.stack import FleetServer, connect, run_sql, scalar

REPEATS = 7
BOARD_TEAM = "team-7"
# The window: the last 15 days (days=14 is the 14 days before today and today); the previous
# window is the 15 days before it, so the two cover the 30 loaded days.
WINDOW_DAYS = 14
EXPORT_TEAM = "csv-export"
EXPORT_PREFIX = "csv-"
EXPORT_DRIVERS = 100_000
CHUNK = 64 * 1024
MEMORY_SAMPLE_SECONDS = 0.005

TEAM_COMPARE_FLOOR = """
WITH current_window AS (
    SELECT driver_id,
           count(*) AS days_worked,
           sum(deliveries_completed) AS total_deliveries,
           sum(revenue_generated) AS total_revenue,
           round(avg(achievement_percentage), 2) AS avg_achievement,
           count(*) FILTER (WHERE target_achieved) AS days_achieved,
           sum(active_seconds) AS active_seconds
    FROM driver_performance_history
    WHERE team = %s AND date BETWEEN %s AND %s
    GROUP BY driver_id
), previous_window AS (
    SELECT driver_id, round(avg(achievement_percentage), 2) AS score,
           rank() OVER (ORDER BY round(avg(achievement_percentage), 2) DESC) AS rank
    FROM driver_performance_history
    WHERE team = %s AND date BETWEEN %s AND %s
    GROUP BY driver_id
)
SELECT rank() OVER (ORDER BY c.avg_achievement DESC), c.driver_id, p.rank, c.days_worked,
       c.total_deliveries, c.total_revenue, c.avg_achievement, c.days_achieved,
       c.active_seconds / 60, per_active_hour(c.total_deliveries, c.active_seconds, 900),
       p.rank - rank() OVER (ORDER BY c.avg_achievement DESC),
       round((c.avg_achievement - p.score) * 100 / nullif(p.score, 0), 2)
FROM current_window c
LEFT JOIN previous_window p USING (driver_id)
ORDER BY c.avg_achievement DESC, c.driver_id
LIMIT 10
"""

LOAD_EXPORT_DRIVERS = """
INSERT INTO driver_targets (driver_id, target_deliveries, target_revenue, status, team)
SELECT %s || lpad(CAST(i AS text), 6, '0'), 20 + i %% 10, 4000 + (i %% 50) * 20,
       (ARRAY['available', 'busy', 'break', 'offline'])[1 + i %% 4], %s
FROM generate_series(1, %s) AS i
"""

LOAD_EXPORT_DAYS = """
INSERT INTO driver_days (driver_id, business_date, team, target_deliveries, target_revenue,
                         current_deliveries, current_revenue, active_seconds)
SELECT driver_id, business_today('UTC'), team, target_deliveries, target_revenue,
       CAST(right(driver_id, 2) AS integer) %% 30, CAST(right(driver_id, 3) AS integer) * 7,
       CAST(right(driver_id, 4) AS integer)
FROM driver_targets WHERE team = %s
"""

# The same rows, columns and cell formatting as the CSV, in one COPY.
EXPORT_FLOOR = """
COPY (
    SELECT CASE WHEN left(driver_id, 1) IN ('=', '+', '-', '@', E'\\t', E'\\r')
                THEN '''' || driver_id ELSE driver_id END,
           CASE WHEN left(team, 1) IN ('=', '+', '-', '@', E'\\t', E'\\r')
                THEN '''' || team ELSE team END,
           status, business_date,
           target_deliveries, target_revenue, current_deliveries, current_revenue,
           progress_percentage(current_deliveries, target_deliveries),
           progress_percentage(current_revenue, target_revenue),
           calculate_achievement_percentage(current_deliveries, target_deliveries,
                                            current_revenue, target_revenue),
           CASE WHEN current_deliveries >= target_deliveries THEN 'true' ELSE 'false' END,
           CASE WHEN current_revenue >= target_revenue THEN 'true' ELSE 'false' END,
           CASE WHEN current_deliveries >= target_deliveries
                     AND current_revenue >= target_revenue THEN 'true' ELSE 'false' END,
           active_seconds / 60,
           to_json(updated_at) #>> '{}'
    FROM (
        SELECT t.driver_id, t.team, t.status, business_today('UTC') AS business_date,
               coalesce(d.target_deliveries, t.target_deliveries) AS target_deliveries,
               coalesce(d.target_revenue, t.target_revenue) AS target_revenue,
               coalesce(d.current_deliveries, 0) AS current_deliveries,
               coalesce(d.current_revenue, 0) AS current_revenue,
               coalesce(d.active_seconds, 0)
                   + active_seconds_within(t.active_since, now(), business_today('UTC'), 'UTC')
                   AS active_seconds,
               greatest(t.updated_at, d.updated_at) AS updated_at
        FROM driver_targets t
        LEFT JOIN driver_days d
               ON d.driver_id = t.driver_id AND d.business_date = business_today('UTC')
        WHERE t.team = 'csv-export'
        ORDER BY t.driver_id
    ) AS driver
) TO STDOUT WITH (FORMAT csv, HEADER)
"""


def _ensure_history(url: str) -> None:
    """The 3M rows of top_performers_3m (loaded here when that case did not run)."""
    expected = SNAPSHOT_DRIVERS * HISTORY_DAYS
    if scalar(url, "SELECT count(*) FROM driver_performance_history") == expected:
        return
    day = today(url)
    run_sql(url, "TRUNCATE driver_performance_history")
    run_sql(url, sql.LOAD_HISTORY, params=(BIG_PREFIX, day, SNAPSHOT_DRIVERS, HISTORY_DAYS))
    run_sql(url, "VACUUM ANALYZE driver_performance_history")


def team_compare(server: FleetServer, url: str) -> Result:
    _ensure_history(url)
    day = today(url)
    start = day - dt.timedelta(days=WINDOW_DAYS)
    length = (day - start).days + 1
    previous = (start - dt.timedelta(days=length), start - dt.timedelta(days=1))
    path = f"/top_performers?team={BOARD_TEAM}&compare=previous&days={WINDOW_DAYS}&limit=10"
    client = server.client()
    conn = connect(url)
    cursor = conn.cursor()
    ours: list[float] = []
    floor: list[float] = []
    try:
        for _ in range(REPEATS):
            started = time.perf_counter()
            status, reply = client.call("GET", path)
            ours.append(_ms_since(started))
            _expect(status, reply, "top_performers")
            started = time.perf_counter()
            cursor.execute(
                TEAM_COMPARE_FLOOR, (BOARD_TEAM, start, day, BOARD_TEAM, previous[0], previous[1])
            )
            rows = cursor.fetchall()
            floor.append(_ms_since(started))
            got = [(r["driver_id"], r["previous_rank"]) for r in reply["performers"]]
            if got != [(row[1], row[2]) for row in rows]:
                raise RuntimeError("top_performers (team, compare) and its floor disagree")
    finally:
        client.close()
        conn.close()
    return Result(
        "top_performers_team_compare",
        statistics.median(ours),
        statistics.median(floor),
        "ms",
        ("<=", 1.5),
        extra={"team": BOARD_TEAM, "window_days": length},
    )


def _rss_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def _process_tree(root: int) -> list[int]:
    pids = [root]
    for pid in pids:
        children = Path(f"/proc/{pid}/task/{pid}/children")
        if children.exists():
            pids += [int(child) for child in children.read_text().split()]
    return pids


class MemorySampler:
    """Samples the processes' summed RSS in a thread while the block runs."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.baseline = self.peak = _rss_bytes(pids)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample)

    def _sample(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, _rss_bytes(self.pids))
            time.sleep(MEMORY_SAMPLE_SECONDS)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    @property
    def growth(self) -> int:
        return self.peak - self.baseline


def _download(port: int, path: str) -> tuple[int, int, int]:
    """Status, bytes and lines of one streamed GET, read in chunks (never held whole)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        size = lines = 0
        while chunk := response.read(CHUNK):
            size += len(chunk)
            lines += chunk.count(b"\n")
        return response.status, size, lines
    finally:
        conn.close()


def csv_export(server: FleetServer, url: str) -> Result:
    run_sql(url, "DELETE FROM driver_targets WHERE team = %s", params=(EXPORT_TEAM,))
    run_sql(url, LOAD_EXPORT_DRIVERS, params=(EXPORT_PREFIX, EXPORT_TEAM, EXPORT_DRIVERS))
    run_sql(url, LOAD_EXPORT_DAYS, params=(EXPORT_TEAM,))
    run_sql(url, "VACUUM ANALYZE driver_targets", "VACUUM ANALYZE driver_days")
    path = f"/get_targets?team={EXPORT_TEAM}&format=csv"
    pids = _process_tree(server.process.pid)
    _download(server.port, path)  # warm the server's code paths and the pool
    conn = connect(url)
    cursor = conn.cursor()
    ours: list[float] = []
    floor: list[float] = []
    growth: list[int] = []
    size = 0
    try:
        for _ in range(REPEATS):
            sampler = MemorySampler(pids)
            started = time.perf_counter()
            with sampler:
                status, size, lines = _download(server.port, path)
            ours.append(_ms_since(started))
            growth.append(sampler.growth)
            if status != 200 or lines != EXPORT_DRIVERS + 1:
                raise RuntimeError(f"the CSV export answered {status} with {lines} lines")

            sink = io.BytesIO()
            started = time.perf_counter()
            cursor.execute(EXPORT_FLOOR, stream=sink)
            floor.append(_ms_since(started))
            if sink.getvalue().count(b"\n") != EXPORT_DRIVERS + 1:
                raise RuntimeError("the COPY floor did not export every driver")
    finally:
        conn.close()
    worst_growth = max(growth)
    return Result(
        "csv_export_100k",
        statistics.median(ours),
        statistics.median(floor),
        "ms",
        ("<=", 1.5),
        extra={
            "csv_bytes": size,
            "server_rss_growth_bytes": worst_growth,
            "memory_flat": worst_growth < size // 4,
        },
        extra_ok=worst_growth < size // 4,
    )


def run(server: FleetServer, url: str) -> list[Result]:
    return [team_compare(server, url), csv_export(server, url)]
