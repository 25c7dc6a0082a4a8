"""cold_start: a new process to its first 200, ours against a bare function on the same launcher.

Ours is what Cloud Functions cold-starts: functions-framework loading main.py with the target
get_targets (migrations already applied, so start-up only checks them). The floor is a bare
functions-framework function, written into a temp dir, that opens a pg8000 connection and runs
one query. Both are timed from the spawn to the first 200 of the same driver's lookup, several
times alternately; the figure is the median.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import time
from pathlib import Path

from bench import sql
from bench.report import Result
from bench.stack import (
    FLEET,
    FUNCTIONS_FRAMEWORK,
    PROJECT_ROOT,
    START_TIMEOUT,
    free_port,
    run_sql,
    server_env,
    stop,
    wait_for_200,
)
from shared.db.connect import pg8000_params_from_url

REPEATS = 5

BARE_FUNCTION = """\
import json
import os

import functions_framework
import pg8000.dbapi

QUERY = {query!r}


@functions_framework.http
def bare(request):
    conn = pg8000.dbapi.connect(**json.loads(os.environ["BENCH_PG8000_PARAMS"]))
    try:
        cursor = conn.cursor()
        cursor.execute(QUERY, (request.args["driver_id"],))
        driver_id, deliveries, revenue = cursor.fetchone()
    finally:
        conn.close()
    return {{"driver_id": driver_id, "target_deliveries": deliveries, "target_revenue": revenue}}
"""


def _time_to_200(command: list[str], env: dict[str, str], cwd: Path, path: str) -> float:
    port = free_port()
    started = time.perf_counter()
    process = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port)],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_200(port, path, process, START_TIMEOUT)
        return (time.perf_counter() - started) * 1000
    finally:
        stop(process)


def cold_start(url: str, directory: Path) -> Result:
    run_sql(url, sql.LOAD_DRIVERS, params=("cold-", 1))
    driver_id = "cold-000001"
    bare_dir = directory / "bare"
    bare_dir.mkdir()
    (bare_dir / "main.py").write_text(BARE_FUNCTION.format(query=sql.BARE_QUERY))
    params = pg8000_params_from_url(url)
    bare_env = server_env(url, BENCH_PG8000_PARAMS=json.dumps(params))
    ours_env = server_env(url)
    query = f"?driver_id={driver_id}"
    ff = str(FUNCTIONS_FRAMEWORK)
    ours: list[float] = []
    serve: list[float] = []
    floor: list[float] = []
    for _ in range(REPEATS):
        ours.append(
            _time_to_200(
                [ff, "--target", "get_targets", "--source", str(PROJECT_ROOT / "main.py")],
                ours_env,
                PROJECT_ROOT,
                "/" + query,
            )
        )
        floor.append(
            _time_to_200(
                [ff, "--target", "bare", "--source", str(bare_dir / "main.py")],
                bare_env,
                bare_dir,
                "/" + query,
            )
        )
        serve.append(
            _time_to_200([str(FLEET), "serve"], ours_env, PROJECT_ROOT, "/get_targets" + query)
        )
    return Result(
        "cold_start",
        statistics.median(ours),
        statistics.median(floor),
        "ms",
        ("<=", 2.0),
        # For reference: `fleet serve`, which builds every function's app, to the same 200.
        extra={"fleet_serve_ms": round(statistics.median(serve), 1)},
    )
