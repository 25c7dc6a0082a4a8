"""deploy.py's flags: what a deploy is told, with their defaults and checks.

Standard library only, like every module in deploy/: deploy.py runs in the gcloud image.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _warm_instances(text: str) -> tuple[str, int]:
    name, _, count = text.partition("=")
    if not name or not count.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=N (e.g. update_progress=1)")
    return name, int(count)


def parser(description: str) -> argparse.ArgumentParser:
    flags = argparse.ArgumentParser(description=description)
    flags.add_argument("--project", required=True)
    flags.add_argument("--region", required=True)
    flags.add_argument("--instance", required=True, help="connection name project:region:name")
    flags.add_argument("--timezone", default="UTC", help="FLEET_TIMEZONE (IANA name)")
    flags.add_argument("--ip-type", choices=("PUBLIC", "PRIVATE", "PSC"), default="PUBLIC")
    flags.add_argument("--vpc-connector", help="Serverless VPC Access connector (PRIVATE/PSC)")
    flags.add_argument("--db-name", default="fleet")
    flags.add_argument("--db-user", default="fleet")
    flags.add_argument("--db-secret", default="fleet-db-pass", help="Secret Manager secret")
    flags.add_argument(
        "--iam-auth", action="store_true", help="IAM database auth: no password, no secret"
    )
    flags.add_argument("--runtime-sa", help="default fleet-runtime@PROJECT.iam...")
    flags.add_argument("--scheduler-sa", help="default fleet-scheduler@PROJECT.iam...")
    flags.add_argument("--gateway-sa", help="default fleet-gateway@PROJECT.iam...")
    flags.add_argument(
        "--gateway-region", help="the gateway's region, default --region (not every region has one)"
    )
    flags.add_argument(
        "--gateway-config",
        type=Path,
        metavar="FILE",
        help="the API config, written already by deploy/gateway.py (Cloud Build's step)",
    )
    flags.add_argument(
        "--identity-api-key",
        help="Identity Platform's Web API key: the console's email and password sign-in "
        "(without it the console asks for an ID token to be pasted)",
    )
    flags.add_argument("--db-max-connections", type=int, default=100)
    flags.add_argument("--db-reserved-connections", type=int, default=10)
    flags.add_argument("--python", default=sys.executable, help="runs the migration")
    flags.add_argument("--skip-migrate", action="store_true", help="migrated already")
    flags.add_argument(
        "--rollback",
        action="store_true",
        help="redeploying older code: no migration, no cold-start migration (schema stays ahead)",
    )
    flags.add_argument(
        "--min-instances",
        type=_warm_instances,
        action="append",
        default=[],
        metavar="NAME=N",
        help="keep N instances of function NAME warm (no cold start; billed while idle); "
        "repeatable, default 0 for every function",
    )
    flags.add_argument("--pin-installed", action="store_true", help="pin installed versions")
    flags.add_argument("--dry-run", action="store_true", help="print the commands, run none")
    flags.add_argument("--stage-only", type=Path, metavar="DIR", help="stage into DIR, stop")
    return flags
