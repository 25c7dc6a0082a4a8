"""`fleet`: the ops commands, over the same shared operations the functions use.

    fleet serve                      the local stack (what `make run` runs)
    fleet migrate [--status]         apply pending migrations, or list them
    fleet snapshot --date D [--no-reset]   close a business day by hand (catch-up)
    fleet grant (--uid U | --email E) --role R ...   a user's role (Identity Platform; no database)

Without DATABASE_URL, INSTANCE_CONNECTION_NAME or DB_HOST in the environment, the commands use
the embedded PostgreSQL kept in FLEET_DATA_DIR (default .fleet/).
Exit codes: 0 done, 1 the database failed or refused, 2 bad arguments (or serve's port in use).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ops import grant
from shared import errors
from shared.db import migrations
from shared.db.engine import EngineBundle, build_engine
from shared.db.instance import close_engine, get_engine
from shared.db.translate import translated_errors
from shared.fleet.days import snapshot
from shared.settings import get_settings

# Each worker process holds up to --threads connections plus overflow: four of them stay well
# inside PostgreSQL's default max_connections (100).
MAX_DEFAULT_WORKERS = 4

_DATABASE_VARIABLES = ("DATABASE_URL", "INSTANCE_CONNECTION_NAME", "DB_HOST")


def _use_local_database_unless_configured() -> None:
    empty = [name for name in _DATABASE_VARIABLES if os.environ.get(name) == ""]
    if empty:
        # A deploy step with a blank substitution must fail, not migrate a local database.
        raise errors.InvalidInput(f"{empty[0]} is set but empty: give it a value or unset it")
    if any(os.environ.get(name) for name in _DATABASE_VARIABLES):
        return
    from local.embedded import start_embedded_postgres

    data_dir = Path(os.environ.get("FLEET_DATA_DIR", ".fleet"))
    os.environ["DATABASE_URL"] = start_embedded_postgres(data_dir)
    get_settings.cache_clear()


def _engine_without_auto_migration() -> EngineBundle:
    return build_engine(get_settings())


def _cmd_migrate(args: argparse.Namespace) -> int:
    bundle = _engine_without_auto_migration()
    try:
        with translated_errors():
            if args.status:
                for name, state in migrations.status(bundle.engine):
                    print(f"{name}: {state}")
                return 0
            applied = migrations.migrate(bundle.engine)
    finally:
        bundle.close()
    print("applied: " + ", ".join(applied) if applied else "nothing to apply: schema is current")
    return 0


def _cmd_snapshot(args: argparse.Namespace) -> int:
    settings = get_settings()
    result = snapshot.nightly(
        get_engine(), date=args.date, reset=args.reset, settings=settings, by_hand=True
    )
    print(json.dumps(result, default=str))
    return 0


def _listen(args: argparse.Namespace) -> None:
    """serve's port, bound before PostgreSQL starts: a port in use ends the command at once."""
    from local.server import PortInUse, listen

    try:
        args.listener = listen(args.host, args.port)
    except PortInUse as exc:
        raise errors.InvalidInput(str(exc)) from exc


def _cmd_serve(args: argparse.Namespace) -> int:
    from local.dispatcher import build_app
    from local.server import deliver_webhooks_in_background, serve

    # Locally a webhook receiver on 127.0.0.1 over http is fine (never in the cloud).
    os.environ.setdefault("WEBHOOKS_ALLOW_LOOPBACK_HTTP", "true")
    # A connection for each serving thread: with fewer, busy threads queue for the pool, and
    # overflow connections are closed and reopened over and over (make bench's concurrent_16).
    os.environ.setdefault("DB_POOL_SIZE", str(args.threads))
    get_settings.cache_clear()
    print(get_settings().auth.summary, file=sys.stderr)
    bundle = _engine_without_auto_migration()
    try:
        with translated_errors():
            applied = migrations.migrate(bundle.engine)
    finally:
        bundle.close()
    # stderr: stdout carries only the JSON log lines, as in the cloud.
    print("migrations applied: " + (", ".join(applied) or "none pending"), file=sys.stderr)
    print(
        f"serving every function on http://{args.host}:{args.port}/<function_name>",
        file=sys.stderr,
    )
    serve(
        build_app(),
        listener=args.listener,
        workers=args.workers,
        threads=args.threads,
        in_worker=(lambda: deliver_webhooks_in_background(args.webhook_interval))
        if args.webhook_interval > 0
        else None,
    )
    return 0


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from exc


def _at_least_one(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from exc
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is less than 1")
    return value


_DATABASE_HELP = """\
environment:
  DATABASE_URL          the database, e.g. postgresql://user:pass@host:5432/fleet (or
                        INSTANCE_CONNECTION_NAME for Cloud SQL, or DB_HOST and the DB_* variables)
  FLEET_DATA_DIR        with none of those set: the embedded PostgreSQL, started for the command
                        and stopped after it, keeps its data here (default: .fleet)
"""


def _help(text: str) -> dict[str, Any]:
    return {"epilog": text, "formatter_class": argparse.RawDescriptionHelpFormatter}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fleet",
        description="Fleet Targets operations",
        **_help(
            _DATABASE_HELP
            + "  HOST, PORT, THREADS, WORKERS, WEBHOOK_INTERVAL: see fleet serve --help\n"
        ),
    )
    commands = parser.add_subparsers(dest="command", required=True)

    migrate_cmd = commands.add_parser(
        "migrate", help="apply pending migrations", **_help(_DATABASE_HELP)
    )
    migrate_cmd.add_argument("--status", action="store_true", help="list migrations, apply none")
    migrate_cmd.set_defaults(run=_cmd_migrate)

    snapshot_cmd = commands.add_parser(
        "snapshot", help="close one business day into history", **_help(_DATABASE_HELP)
    )
    snapshot_cmd.add_argument("--date", type=_date, required=True, help="business date YYYY-MM-DD")
    snapshot_cmd.add_argument(
        "--no-reset", dest="reset", action="store_false", help="keep drivers' statuses"
    )
    snapshot_cmd.set_defaults(run=_cmd_snapshot)

    serve_cmd = commands.add_parser(
        "serve",
        help="the local stack: every function on one port",
        description="Every function at http://HOST:PORT/<function_name> until Ctrl-C or SIGTERM,\n"
        "which stop it (and the embedded PostgreSQL) within a few seconds.",
        **_help(_DATABASE_HELP),
    )
    serve_cmd.add_argument(
        "--host",
        default=os.environ.get("HOST", "127.0.0.1"),
        help="address to listen on (env HOST, default 127.0.0.1)",
    )
    serve_cmd.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("PORT", "8080")),
        help="port to listen on (env PORT, default 8080)",
    )
    # String defaults go through `type` too, so a bad WORKERS or THREADS is reported like a
    # bad option.
    serve_cmd.add_argument(
        "--workers",
        type=_at_least_one,
        default=os.environ.get("WORKERS", str(min(os.cpu_count() or 1, MAX_DEFAULT_WORKERS))),
        help="worker processes (env WORKERS, default one per CPU, at most 4)",
    )
    serve_cmd.add_argument(
        "--threads",
        type=_at_least_one,
        default=os.environ.get("THREADS", "8"),
        help="threads per worker (env THREADS, default 8)",
    )
    serve_cmd.add_argument(
        "--webhook-interval",
        type=float,
        default=float(os.environ.get("WEBHOOK_INTERVAL", "5")),
        help="seconds between background webhook delivery runs, 0 for none"
        " (env WEBHOOK_INTERVAL, default 5)",
    )
    serve_cmd.set_defaults(run=_cmd_serve, prepare=_listen)

    grant.add_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if "prepare" in args:
            args.prepare(args)
        # Every command but grant (Identity Platform's API, no database) has a database.
        if getattr(args, "database", True):
            _use_local_database_unless_configured()
        code: int = args.run(args)
        return code
    except errors.InvalidInput as exc:
        print(f"fleet: {exc.message}", file=sys.stderr)
        return 2
    except (errors.FleetError, errors.MigrationError) as exc:
        print(f"fleet: {exc}", file=sys.stderr)
        return 1
    finally:
        close_engine()


if __name__ == "__main__":
    sys.exit(main())
