"""Settings from the environment, read once per process into one typed object."""

from __future__ import annotations

import functools
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator

from shared.auth.settings import AuthSettings
from shared.console.settings import ConsoleSettings
from shared.environment import EnvironmentSettings

DEFAULT_RETENTION_DAYS = 30

# deliver_webhooks is called every minute and its one instance takes one request at a time: a
# run must end well before the next call, or that call is refused. WEBHOOK_RUN_SECONDS is the
# whole run, at most this.
WEBHOOK_RUN_LIMIT_SECONDS = 45.0
# Each database step of a run (claiming a batch, recording its results) has this statement
# timeout, and a batch's sends are waited for one WEBHOOK_TIMEOUT_SECONDS plus this grace (the
# threads' own start and the URL check's lookup): what a batch may take is known before it is
# claimed, so a run claims one only if it fits.
WEBHOOK_DB_STEP_SECONDS = 2.5
WEBHOOK_SEND_GRACE_SECONDS = 1.0
WEBHOOK_BATCH_OVERHEAD_SECONDS = 2 * WEBHOOK_DB_STEP_SECONDS + WEBHOOK_SEND_GRACE_SECONDS


class Settings(EnvironmentSettings):
    # Where the database is. In the cloud: INSTANCE_CONNECTION_NAME (Cloud SQL connector).
    # Locally: DATABASE_URL, else the earlier service's DB_HOST/DB_PORT/... variables.
    instance_connection_name: str | None = None
    db_ip_type: Literal["PUBLIC", "PRIVATE", "PSC"] = "PUBLIC"
    db_iam_auth: bool = False
    db_user: str = "postgres"
    # One password on both paths: DB_PASS (Secret Manager's --set-secrets in the cloud), or
    # DB_PASSWORD as the earlier service named it; DB_PASS wins when both are set.
    db_pass: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("db_pass", "db_password")
    )
    database_url: SecretStr | None = None
    db_host: str = "localhost"
    db_port: int = 5432
    db_name: str = "fleet"
    db_ssl: bool = False

    # Pool: max instances x (pool size + overflow) must stay below the server's max_connections.
    db_pool_size: int = Field(default=5, ge=1, le=100)
    db_max_overflow: int = Field(default=2, ge=0, le=100)
    db_pool_timeout: float = Field(default=10.0, gt=0)
    # Below Cloud SQL's and most proxies' idle limits, so a pooled connection is never stale.
    db_pool_recycle: int = Field(default=1800, ge=1)
    # A pooled connection idle longer than this is pinged before use (and replaced if dead);
    # one that heard from the server more recently is busy, not stale, and is used at once.
    db_ping_after_idle_seconds: float = Field(default=1.0, ge=0, le=3600)
    db_statement_timeout_ms: int = Field(default=30_000, ge=0)

    migrate_on_start: bool = True
    fleet_timezone: str = "UTC"
    # Events whose business date is older than this many days are refused (409 too_late).
    late_event_days: int = Field(default=7, ge=1, le=366)
    # A rate per active hour needs this much active time (below it the rate is null): a driver
    # active for nine seconds with one delivery has no rate of 400 an hour.
    rate_min_active_minutes: int = Field(default=15, ge=1, le=1440)
    # How long the ledger of progress events (a retry is recognised within it) and finished
    # webhook events are kept; pruned after each snapshot (shared.fleet.days.retention). Unset:
    # 30 days, or LATE_EVENT_DAYS + 2 if that is more (see event_retention below).
    event_retention_days: int | None = Field(default=None, ge=3, le=3660)
    webhook_retention_days: int | None = Field(default=None, ge=3, le=3660)
    max_body_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)

    # Webhooks. Subscriptions must be https to public addresses; `fleet serve` turns this on so
    # a receiver on 127.0.0.1 can be used locally (http, loopback only).
    webhooks_allow_loopback_http: bool = False
    # A delivery is a 2xx answered within this many seconds.
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=30)
    # Deliveries sent at once by one deliverer, and how long one run of it may last in all.
    webhook_concurrency: int = Field(default=16, ge=1, le=128)
    webhook_run_seconds: float = Field(default=40.0, gt=0, le=WEBHOOK_RUN_LIMIT_SECONDS)
    google_cloud_project: str | None = None

    # Who may call (AUTH_*): a class of its own in shared/auth/, read from the same environment.
    auth: AuthSettings = Field(default_factory=AuthSettings)
    # The console's sign-in (CONSOLE_*): Identity Platform's API key and origins.
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)

    @field_validator("fleet_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"FLEET_TIMEZONE {value!r} is not an IANA time zone name") from exc
        return value

    @model_validator(mode="after")
    def _retention_outlives_late_events(self) -> Settings:
        for name in ("event_retention_days", "webhook_retention_days"):
            days = getattr(self, name)
            if days is not None and days < self._shortest_retention():
                raise ValueError(
                    f"{name.upper()} must be at least LATE_EVENT_DAYS + 2"
                    f" ({self._shortest_retention()})"
                )
        return self

    @model_validator(mode="after")
    def _a_batch_fits_in_a_run(self) -> Settings:
        if self.webhook_batch_seconds > self.webhook_run_seconds:
            raise ValueError(
                f"WEBHOOK_RUN_SECONDS ({self.webhook_run_seconds:g}) must fit one batch of"
                f" deliveries: WEBHOOK_TIMEOUT_SECONDS ({self.webhook_timeout_seconds:g})"
                f" + {WEBHOOK_BATCH_OVERHEAD_SECONDS:g} s"
            )
        return self

    @property
    def webhook_batch_seconds(self) -> float:
        """The most one batch of deliveries takes: its claim, its sends and its recording."""
        return self.webhook_timeout_seconds + WEBHOOK_BATCH_OVERHEAD_SECONDS

    def _shortest_retention(self) -> int:
        # A late event needs its ledger row (to be recognised if retried) and its day's
        # target_reached dedupe key. Its business date is at most LATE_EVENT_DAYS old in
        # FLEET_TIMEZONE, and pruning counts whole days from now: two days of margin.
        return self.late_event_days + 2

    def _retention(self, days: int | None) -> int:
        return days or max(DEFAULT_RETENTION_DAYS, self._shortest_retention())

    @property
    def event_retention(self) -> int:
        return self._retention(self.event_retention_days)

    @property
    def webhook_retention(self) -> int:
        return self._retention(self.webhook_retention_days)

    @property
    def rate_min_active_seconds(self) -> int:
        return self.rate_min_active_minutes * 60

    @property
    def timezone(self) -> ZoneInfo:
        return ZoneInfo(self.fleet_timezone)


@functools.cache
def get_settings() -> Settings:
    return Settings()
