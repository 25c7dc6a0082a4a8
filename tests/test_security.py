"""Security defaults: a direct TLS connection verifies the server's certificate and its name, and
no client-supplied header decides anything about who may do what.

The TLS tests run a PostgreSQL of their own with TLS on 127.0.0.1 and a certificate for
"localhost" signed by a CA the test makes; OpenSSL's SSL_CERT_FILE decides whether the client
trusts that CA, exactly as it would for the system's store.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import ssl
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.test import Client

from ops.cli import _parser
from shared.db.connect import local_params, pg8000_params_from_url
from shared.db.engine import build_engine
from shared.db.translate import translate
from shared.errors import DatabaseUnavailable
from shared.registry import NAMES as FUNCTION_NAMES
from shared.settings import Settings
from tests.helpers import error_of, free_port, get, post, using_database

SOURCE_DIRS = ("shared", "functions")
# The only request headers the code reads, and what for. Only the bearer token grants anything,
# and only with AUTH_MODE=jwt, once verified (shared.auth; tests/test_auth_http.py): the wrapper
# reads the two token headers to say in its 401 whether a token was sent at all.
READ_HEADERS = {
    '"X-Cloud-Trace-Context"': "links the request's log line to its trace",
    "SCHEDULE_TIME_HEADER": "names the day a scheduled snapshot closes",
    '"Authorization"': "the bearer token (behind API Gateway, the gateway's own)",
    '"X-Forwarded-Authorization"': "the caller's bearer token behind API Gateway",
}
SPOOFED = {
    "Authorization": "Bearer forged",
    "X-Goog-Authenticated-User-Email": "accounts.google.com:admin@example.com",
    "X-Serverless-Authorization": "Bearer forged",
    "X-Forwarded-For": "10.0.0.1",
    "X-Apigateway-Api-Userinfo": "e30",
}


def _certificate(directory: Path) -> tuple[Path, Path, Path]:
    """(CA certificate, server certificate for DNS:localhost, server key) in `directory`."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)

    def build(subject: str, key: Any, issuer: str, signer: Any, ca: bool) -> Any:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False
            )
        return builder.sign(signer, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = build("fleet test CA", ca_key, "fleet test CA", ca_key, ca=True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = build("localhost", server_key, "fleet test CA", ca_key, ca=False)
    paths = (directory / "ca.crt", directory / "server.crt", directory / "server.key")
    paths[0].write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return paths


def _postgres_binaries() -> Path | None:
    # The embedded build has no TLS; the distribution's PostgreSQL (Debian's here and in CI) has.
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


@pytest.fixture(scope="module")
def tls_postgres() -> Iterator[tuple[int, Path]]:
    """(port, CA file) of a PostgreSQL of the test's own that speaks TLS on 127.0.0.1 only."""
    binaries = _postgres_binaries()
    if binaries is None:
        pytest.skip("no PostgreSQL built with TLS under /usr/lib/postgresql")
    # PostgreSQL refuses to run as root: as root, its files and processes belong to "postgres".
    user = "postgres" if os.geteuid() == 0 else None
    base = Path(tempfile.mkdtemp(prefix="fleet-tls-pg-"))
    pgdata = base / "pgdata"
    if user is not None:
        shutil.chown(base, user)

    def run(*args: str) -> None:
        subprocess.run(args, check=True, user=user, capture_output=True, timeout=60)

    run(str(binaries / "initdb"), "-D", str(pgdata), "--auth=trust", "-U", "postgres")
    ca, cert, key = _certificate(pgdata)
    for path in (ca, cert, key):
        if user is not None:
            shutil.chown(path, user)
    key.chmod(0o600)
    port = free_port()
    options = f"-h 127.0.0.1 -p {port} -k {base} -c ssl=on"
    options += f" -c ssl_cert_file={cert} -c ssl_key_file={key}"
    pg_ctl = str(binaries / "pg_ctl")
    run(pg_ctl, "-D", str(pgdata), "-w", "-o", options, "-l", str(base / "log"), "start")
    try:
        yield port, ca
    finally:
        run(pg_ctl, "-D", str(pgdata), "-w", "-m", "immediate", "stop")
        shutil.rmtree(base)


def _connect(settings: Settings) -> bool:
    """Whether the engine built from `settings` reaches the server over TLS."""
    bundle = build_engine(settings)
    try:
        with bundle.engine.connect() as conn:
            return bool(
                conn.execute(
                    sa.text("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
                ).scalar()
            )
    finally:
        bundle.close()


def _certificate_error(settings: Settings) -> ssl.SSLCertVerificationError:
    with pytest.raises(SQLAlchemyError) as raised:
        _connect(settings)
    assert isinstance(translate(raised.value), DatabaseUnavailable)
    error: BaseException | None = raised.value
    while error is not None and not isinstance(error, ssl.SSLCertVerificationError):
        error = error.__cause__ or error.__context__
    assert error is not None, f"not a certificate failure: {raised.value!r}"
    return error


def _settings(port: int, host: str, *, url: bool) -> Settings:
    if url:
        return Settings(
            database_url=f"postgresql://postgres@{host}:{port}/postgres?sslmode=require"
        )
    # database_url=None: the suite's DATABASE_URL would otherwise win over the DB_* settings.
    return Settings(
        database_url=None,
        db_host=host,
        db_port=port,
        db_name="postgres",
        db_user="postgres",
        db_ssl=True,
    )


@pytest.mark.slow
@pytest.mark.parametrize("url", [False, True], ids=["DB_SSL", "sslmode"])
def test_tls_refuses_a_certificate_from_an_untrusted_ca(
    tls_postgres: tuple[int, Path], url: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    port, _ = tls_postgres
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    error = _certificate_error(_settings(port, "localhost", url=url))
    assert "certificate" in error.verify_message


@pytest.mark.slow
@pytest.mark.parametrize("url", [False, True], ids=["DB_SSL", "sslmode"])
def test_tls_refuses_a_trusted_certificate_for_another_name(
    tls_postgres: tuple[int, Path], url: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    port, ca = tls_postgres
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    error = _certificate_error(_settings(port, "127.0.0.1", url=url))
    assert "mismatch" in error.verify_message or "IP address" in error.verify_message


@pytest.mark.slow
@pytest.mark.parametrize("url", [False, True], ids=["DB_SSL", "sslmode"])
def test_tls_connects_when_the_certificate_and_name_check_out(
    tls_postgres: tuple[int, Path], url: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    port, ca = tls_postgres
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    assert _connect(_settings(port, "localhost", url=url)) is True


def test_tls_contexts_require_a_verified_certificate_and_name() -> None:
    contexts = [
        pg8000_params_from_url(f"postgresql://u:p@db.internal/fleet?sslmode={mode}")["ssl_context"]
        for mode in ("require", "verify-ca", "verify-full")
    ]
    db_ssl = Settings(database_url=None, db_host="db.internal", db_ssl=True)
    contexts.append(local_params(db_ssl)["ssl_context"])
    for context in contexts:
        assert context.verify_mode == ssl.CERT_REQUIRED
        assert context.check_hostname is True


def test_without_tls_asked_for_no_unverified_tls_is_tried() -> None:
    # pg8000's default ssl_context (None) would try TLS without checking the certificate.
    plain = [
        pg8000_params_from_url("postgresql://u:p@db.internal/fleet")["ssl_context"],
        pg8000_params_from_url("postgresql://u@/fleet?host=/tmp/sock")["ssl_context"],
        local_params(Settings(database_url=None, db_host="db.internal"))["ssl_context"],
    ]
    assert plain == [False, False, False]


@pytest.mark.slow
def test_an_unverifiable_database_certificate_is_a_503(
    tls_postgres: tuple[int, Path], app: Any, session_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    port, _ = tls_postgres
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    with using_database(f"postgresql://postgres@localhost:{port}/postgres?sslmode=require"):
        response = Client(app).get("/get_targets?limit=1")
    assert response.status_code == 503
    assert error_of(response)["code"] == "database_unavailable"


def _request_header_reads() -> set[str]:
    root = Path(__file__).resolve().parent.parent
    reads: set[str] = set()
    pattern = re.compile(r"request\.headers(?:\.get\(\s*|\[\s*)([^,)\]]+)")
    for directory in SOURCE_DIRS:
        for path in (root / directory).rglob("*.py"):
            reads.update(match.strip() for match in pattern.findall(path.read_text()))
    return reads


def test_the_code_reads_no_request_header_but_the_trace_and_the_schedule_time() -> None:
    assert _request_header_reads() <= set(READ_HEADERS), _request_header_reads()


def test_the_code_reads_no_client_identity() -> None:
    root = Path(__file__).resolve().parent.parent
    identity = re.compile(
        r"request\.(authorization|remote_addr|remote_user|access_route|cookies|environ)\b"
    )
    for directory in SOURCE_DIRS:
        for path in (root / directory).rglob("*.py"):
            assert not identity.findall(path.read_text()), path


def test_forged_identity_headers_change_no_answer(client: Any, driver_id: str) -> None:
    assert post(client, "set_targets", [{"driver_id": driver_id}]).status_code == 200
    reads = {
        "get_targets": {"driver_id": driver_id},
        "get_history": {"driver_id": driver_id},
        "top_performers": {"days": 1},
    }
    for function, params in reads.items():
        plain = get(client, function, **params)
        forged = client.get(f"/{function}", query_string=params, headers=SPOOFED)
        assert (forged.status_code, forged.get_json()) == (plain.status_code, plain.get_json())
    # A write refused as anyone's is refused as a forged admin's too.
    for function in FUNCTION_NAMES:
        plain = post(client, function, {"unknown_field": 1})
        forged = post(client, function, {"unknown_field": 1}, headers=SPOOFED)
        assert forged.status_code == plain.status_code, function


def test_the_local_server_listens_on_loopback_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOST", raising=False)
    assert _parser().parse_args(["serve"]).host == "127.0.0.1"
