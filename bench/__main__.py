"""`python -m bench [--only CASE ...] [--threads N]`: run the cases, print the table, write JSON."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import cases, cases_auth, cases_boards, cases_retention, cases_webhooks
from bench.cold_start import cold_start
from bench.cold_start_cloud import cold_start_cloud
from bench.report import RESULTS_PATH, Result, table, write_json
from bench.stack import FleetServer, Postgres, migrate

CASES = (
    "progress",
    "concurrent",
    "set_targets",
    "snapshot",
    "top_performers",
    "boards",
    "webhooks",
    "auth",
    "cold_start",
    "retention",
)


def machine(postgres: Postgres) -> dict[str, Any]:
    model = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "postgresql": postgres.version(),
        "python": platform.python_version(),
        "load_average_at_start": os.getloadavg(),
    }


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run(selected: set[str], threads: int) -> list[Result]:
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="fleet-bench-") as temp:
        directory = Path(temp)
        _log("starting PostgreSQL and migrating")
        postgres = Postgres(directory)
        try:
            url = postgres.create_database("bench")
            copy_url = postgres.create_database("bench_copy")
            migrate(url)
            migrate(copy_url)
            print(f"machine: {machine(postgres)}", flush=True)
            server = FleetServer(url, threads=threads, log_path=directory / "server.log")
            try:
                if "progress" in selected:
                    _log("progress_p50 / progress_p99")
                    results += cases.progress_latency(server, url, directory)
                if "concurrent" in selected:
                    _log("concurrent_16")
                    results.append(cases.concurrent(server, url))
                if "set_targets" in selected:
                    _log("set_targets_10k / set_targets_vs_loop")
                    results += cases.set_targets(server, url)
                if "snapshot" in selected or "top_performers" in selected:
                    _log("snapshot_100k (loading 100,000 drivers twice)")
                    results.append(cases.snapshot(server, url, copy_url))
                if "top_performers" in selected:
                    _log("top_performers_3m (loading 3M history rows)")
                    results.append(cases.top_performers(server, url))
                if "boards" in selected:
                    _log("top_performers_team_compare / csv_export_100k")
                    results += cases_boards.run(server, url)
            finally:
                server.stop()
            if "webhooks" in selected:
                _log("progress_p50_webhook / deliver_1k")
                log_path = directory / "server_webhooks.log"
                results += cases_webhooks.webhooks(url, threads=threads, log_path=log_path)
            if "auth" in selected:
                _log("progress_p50_auth")
                results.append(cases_auth.progress_auth(url, directory, threads=threads))
            if "cold_start" in selected:
                _log("cold_start")
                results.append(cold_start(url, directory))
                _log("cold_start_cloud")
                results.append(cold_start_cloud(directory))
            if "retention" in selected:
                _log("prune_10m (loading 10M ledger rows)")
                results.append(
                    cases_retention.prune_10m(postgres, threads=threads, directory=directory)
                )
        finally:
            postgres.stop()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", nargs="+", choices=CASES, help="run these cases only")
    parser.add_argument(
        "--threads", type=int, default=8, help="the server's threads (fleet serve --threads)"
    )
    args = parser.parse_args()
    selected = set(args.only or CASES)
    results = run(selected, args.threads)
    print(table(results))
    for result in results:
        if result.extra:
            print(f"{result.key}: {json.dumps(result.extra)}")
    print("load average at the end: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    if selected == set(CASES):
        write_json(results)
        print(f"written: {RESULTS_PATH}")
    missed = [r.key for r in results if not r.met]
    if missed:
        print("goals missed: " + ", ".join(missed))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
