"""cold_start_cloud: what an instance on the Cloud SQL connector's path imports and builds before
its first query, against what the floor's function imports.

Ours, in a fresh interpreter: functions-framework, the function's module (main.py's entry point
for update_progress, which imports SQLAlchemy, pydantic and the settings), the settings read
with INSTANCE_CONNECTION_NAME set, and the engine built on the connector's path, which imports
google.cloud.sql.connector and constructs its `Connector`. The connector finds credentials in a
service-account file the bench writes (a key made here, no network: the first call to Google's
APIs would come with the first query, which is not timed). The floor: functions-framework and
pg8000, the bare function's imports. Timed inside each process, from its first import to the
end of the work, median of REPEATS alternating runs. `connector_import_ms` is the connector's
import alone, for reference.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bench.report import Result
from bench.stack import PROJECT_ROOT

REPEATS = 7

_TIMED = """\
import time
started = time.perf_counter()
{body}
print(json.dumps((time.perf_counter() - started) * 1000))
"""

OURS = """\
import json
import functions_framework
import main
main.update_progress
from shared.settings import get_settings
from shared.db.engine import build_engine
bundle = build_engine(get_settings())
"""

FLOOR = """\
import json
import functions_framework
import pg8000.dbapi
"""

CONNECTOR_ONLY = """\
import json
import google.cloud.sql.connector
"""


def _service_account_file(directory: Path) -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    path = directory / "bench-service-account.json"
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "bench-project",
                "private_key_id": "bench",
                "private_key": pem,
                "client_email": "bench@bench-project.iam.gserviceaccount.com",
                "client_id": "1",
                "token_uri": "https://oauth2.googleapis.com/token",
            }
        )
    )
    return path


def _time(body: str, env: dict[str, str]) -> float:
    done = subprocess.run(
        [sys.executable, "-c", _TIMED.format(body=body)],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    ms: float = json.loads(done.stdout.strip().splitlines()[-1])
    return ms


def cold_start_cloud(directory: Path) -> Result:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(directory),
        "FLEET_TIMEZONE": "UTC",
        "INSTANCE_CONNECTION_NAME": "bench-project:europe-west1:fleet-db",
        "DB_USER": "fleet",
        "DB_PASS": "bench",
        "MIGRATE_ON_START": "false",
        "GOOGLE_APPLICATION_CREDENTIALS": str(_service_account_file(directory)),
    }
    ours: list[float] = []
    floor: list[float] = []
    connector: list[float] = []
    for _ in range(REPEATS):
        ours.append(_time(OURS, env))
        floor.append(_time(FLOOR, env))
        connector.append(_time(CONNECTOR_ONLY, env))
    return Result(
        "cold_start_cloud",
        statistics.median(ours),
        statistics.median(floor),
        "ms",
        ("<=", 2.5),
        extra={"connector_import_ms": round(statistics.median(connector), 1)},
    )
