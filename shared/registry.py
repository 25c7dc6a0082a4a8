"""Every deployed function in one place: its module, the methods it answers, how it is sized in
the cloud and the Cloud Scheduler job that calls it, if any.

main.py, the local server, deploy/deploy.py, the tests and the OpenAPI check all read this
list. Adding a function is one entry here plus its module `functions/<name>.py`, which defines
an entry point called `<name>`.

Standard library only: deploy/deploy.py reads it in the gcloud image, which has none of our
dependencies installed.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Schedule:
    """A Cloud Scheduler job calling the function. Delivery is at least once: every scheduled
    function is idempotent."""

    job: str
    cron: str
    attempt_deadline_s: int
    max_retry_attempts: int
    min_backoff: str = "30s"
    max_backoff: str = "600s"
    max_doublings: int = 4


@dataclass(frozen=True)
class Function:
    """One deployed function.

    Concurrency: how many requests one instance serves at once. More than 1 needs a whole vCPU
    (--cpu=1), and Python's functions-framework serves THREADS threads, so THREADS is set to
    the concurrency (Google's advice; the Python runtime serves at most 8 at once). Each thread
    holds at most one database connection at a time, so the pool per instance is the
    concurrency (DB_POOL_SIZE) with no overflow, and an instance never opens more than that.
    """

    name: str
    methods: tuple[str, ...]
    concurrency: int
    max_instances: int
    timeout_s: int = 60
    # Instances kept warm (no cold start for their first request), billed while idle: 0 unless
    # a fleet cannot wait for a cold start; deploy's --min-instances NAME=N overrides it.
    min_instances: int = 0
    memory: str = "512Mi"
    cpu: str = "1"
    extra_env: dict[str, str] = field(default_factory=dict)
    schedule: Schedule | None = None
    # The roles (shared.auth.identity.Role) that may call it at all, with AUTH_MODE=jwt; what
    # each may then reach is the operations' row-level rule. Admin only unless an entry says
    # otherwise, so a new function is never open by omission. None: no identity is asked for
    # (a page a browser opens by its address; what it shows comes from the other functions).
    roles: tuple[str, ...] | None = ("admin",)
    # False for a function that answers from memory (the console's page): it keeps answering
    # while the database is down.
    uses_database: bool = True

    @property
    def module(self) -> str:
        return f"functions.{self.name}"

    @property
    def connections(self) -> int:
        return self.concurrency * self.max_instances

    @property
    def user_facing(self) -> bool:
        """End users call it, through the API Gateway (deploy/gateway.py): every function but
        the ones a Cloud Scheduler job calls, whose only caller is the scheduler's account."""
        return self.schedule is None


# Who may call what (issue 13; README "Who may do what"). The scheduler role is Cloud
# Scheduler's service account: it only starts the scheduled runs.
USERS = ("driver", "dispatcher", "admin")
MANAGERS = ("dispatcher", "admin")
SCHEDULED = ("admin", "scheduler")

# Connections: sum of max instances x pool per instance must fit the database's
# max_connections less what is kept for migrations, the CLI and Cloud SQL's own use.
# With Cloud SQL's 100 (a 3.75 GB instance) less 10 kept: 16+40+8+8+8+2+1+1+4 = 88 <= 90.
FUNCTIONS = (
    # Batches of up to 10,000 rows: longer transactions, fewer at once.
    Function("set_targets", ("POST",), concurrency=4, max_instances=2, roles=MANAGERS),
    Function("get_targets", ("GET",), concurrency=8, max_instances=2, roles=USERS),
    # The hot path: every delivery app posts here. One request = one short transaction.
    Function("update_progress", ("POST",), concurrency=8, max_instances=5, roles=USERS),
    Function("get_history", ("GET",), concurrency=4, max_instances=2, roles=USERS),
    Function("top_performers", ("GET",), concurrency=4, max_instances=2, roles=USERS),
    # The snapshot closes a whole day in one transaction: a longer timeout and statement
    # timeout than the request path's 60 s / 30 s. Five past midnight in FLEET_TIMEZONE
    # (--time-zone): yesterday is over everywhere in the fleet's zone. A retried or duplicate
    # run names the same day and finds it already closed.
    Function(
        "snapshot_daily",
        ("POST",),
        concurrency=1,
        max_instances=1,
        timeout_s=300,
        extra_env={"DB_STATEMENT_TIMEOUT_MS": "240000"},
        roles=SCHEDULED,
        schedule=Schedule(
            "fleet-snapshot-daily",
            "5 0 * * *",
            attempt_deadline_s=330,
            max_retry_attempts=5,
            min_backoff="60s",
            max_backoff="900s",
        ),
    ),
    Function("manage_webhooks", ("GET", "POST", "DELETE"), concurrency=2, max_instances=1),
    # Every minute, to one instance that takes one request: a run lasts at most
    # WEBHOOK_RUN_SECONDS in all (40, never over 45; shared/settings.py), so it has ended when
    # the next call comes. The timeout and attempt deadline of 60 s are only a backstop; a
    # failed run is not retried: the next minute's run picks up what is due.
    Function(
        "deliver_webhooks",
        ("POST",),
        concurrency=1,
        max_instances=1,
        timeout_s=60,
        schedule=Schedule(
            "fleet-deliver-webhooks", "* * * * *", attempt_deadline_s=60, max_retry_attempts=0
        ),
        roles=SCHEDULED,
    ),
    # The dispatchers' page and its files, from memory: no database (its pool is never opened,
    # though the budget above counts it), a few users, and assets cached for a year.
    Function("console", ("GET",), concurrency=4, max_instances=1, roles=None, uses_database=False),
)

NAMES = tuple(function.name for function in FUNCTIONS)


def function(name: str) -> Function:
    """The entry called `name`; KeyError names the ones there are."""
    for entry in FUNCTIONS:
        if entry.name == name:
            return entry
    raise KeyError(f"no function {name!r}; there are {', '.join(NAMES)}")
