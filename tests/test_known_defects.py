"""One test per defect of the earlier service (../shared/reference/known-defects.md) that could
come back here. Each would fail if the defect returned."""

from __future__ import annotations

import datetime as dt
import os
import ssl
import threading
import uuid

import pytest
import sqlalchemy as sa

from shared.db.connect import local_params, pg8000_params_from_url
from shared.db.engine import build_engine
from shared.db.migrations import load_migrations, migrate
from shared.settings import Settings, get_settings
from tests.helpers import error_of, get, post, unreachable_url, using_database

INJECTIONS = [
    "1;DROP TABLE driver_targets",
    "1 days'; DROP TABLE driver_performance_history; --",
    "30') OR ('1'='1",
    "1 UNION SELECT 1",
]


def tables_intact(engine):
    with engine.connect() as conn:
        return conn.execute(
            sa.text(
                "SELECT to_regclass('driver_targets') IS NOT NULL"
                " AND to_regclass('driver_performance_history') IS NOT NULL"
            )
        ).scalar_one()


# 1. SQL injection through `days` (and any other value).
@pytest.mark.parametrize("days", INJECTIONS)
def test_1_days_cannot_carry_sql(client, engine, driver_id, days):
    post(client, "set_targets", [{"driver_id": driver_id}])
    for function, params in (
        ("get_history", {"driver_id": driver_id, "days": days}),
        ("top_performers", {"days": days}),
    ):
        response = get(client, function, **params)
        assert response.status_code == 400
        assert error_of(response)["field"] == "days"
    assert tables_intact(engine)


def test_1_a_hostile_driver_id_is_stored_verbatim(client, engine):
    hostile = f"x'); DROP TABLE driver_targets; -- {uuid.uuid4().hex[:8]}"
    assert post(client, "set_targets", [{"driver_id": hostile}]).status_code == 200
    assert (
        post(client, "update_progress", {"driver_id": hostile, "deliveries": 1}).status_code == 200
    )
    body = get(client, "get_targets", driver_id=hostile).get_json()
    assert (body["driver_id"], body["current_deliveries"]) == (hostile, 1)
    assert get(client, "get_history", driver_id=hostile).get_json()["history"] == []
    status_probe = get(client, "get_targets", status="available' OR '1'='1")
    assert status_probe.status_code == 400
    assert tables_intact(engine)
    with engine.connect() as conn:
        stored = conn.execute(
            sa.text("SELECT driver_id FROM driver_targets WHERE driver_id = :id"), {"id": hostile}
        ).scalar_one()
    assert stored == hostile


# 2. Errors swallowed: a database failure must be a 503, never "not found", null or success.
UNREACHABLE_CALLS = [
    ("GET", "get_targets", {"driver_id": "anyone"}),
    ("GET", "get_history", {"driver_id": "anyone"}),
    ("GET", "top_performers", {}),
    ("POST", "set_targets", [{"driver_id": "anyone"}]),
    ("POST", "update_progress", {"driver_id": "anyone", "deliveries": 1}),
    ("POST", "snapshot_daily", {"date": "2026-01-01"}),
]


@pytest.mark.parametrize("migrate_on_start", ["true", "false"])
def test_2_an_unreachable_database_is_503_for_every_function(
    client, session_database, migrate_on_start
):
    unreachable = unreachable_url("nowhere")
    with using_database(unreachable, MIGRATE_ON_START=migrate_on_start, DB_POOL_TIMEOUT="2"):
        for method, function, payload in UNREACHABLE_CALLS:
            if method == "GET":
                response = get(client, function, **payload)
            else:
                response = post(client, function, payload)
            assert response.status_code == 503, (function, response.get_json())
            assert error_of(response)["code"] == "database_unavailable"
    # A failed cold start is not cached: once the database answers, so does the function.
    assert get(client, "top_performers").status_code == 200


def test_2_a_refused_update_says_so(client, driver_id):
    post(client, "set_targets", [{"driver_id": driver_id}])
    response = post(client, "update_progress", {"driver_id": driver_id, "deliveries": -1})
    assert response.status_code == 409
    assert error_of(response)["code"] == "negative_total"


# 3. Snapshot then reset in separate steps: a failed snapshot must not be followed by a reset.
def test_3_a_failed_snapshot_resets_nothing_and_loses_no_day(fresh_engine, client):
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    noon = dt.datetime.combine(yesterday, dt.time(12), dt.UTC).isoformat()
    post(client, "set_targets", [{"driver_id": "a"}, {"driver_id": "b"}])
    for driver in ("a", "b"):
        post(client, "update_progress", {"driver_id": driver, "deliveries": 3, "occurred_at": noon})
        post(client, "update_progress", {"driver_id": driver, "status": "busy"})
    # A row in the way makes the copy into history fail half-way (after "a", on "b").
    insert = sa.text(
        "INSERT INTO driver_performance_history (driver_id, date, deliveries_completed,"
        " revenue_generated, target_deliveries, target_revenue) VALUES ('b', :d, 0, 0, 0, 0)"
    )
    with fresh_engine.begin() as conn:
        conn.execute(insert, {"d": yesterday})

    failed = post(client, "snapshot_daily", {"date": yesterday.isoformat()})
    assert failed.status_code >= 500
    assert error_of(failed)["code"] == "internal"
    for driver in ("a", "b"):
        assert get(client, "get_targets", driver_id=driver).get_json()["status"] == "busy"
    assert get(client, "get_history", driver_id="a").get_json()["history"] == []

    with fresh_engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM driver_performance_history"))
    done = post(client, "snapshot_daily", {"date": yesterday.isoformat()}).get_json()
    assert (done["drivers_snapshotted"], done["already_done"]) == (2, False)
    for driver in ("a", "b"):
        (row,) = get(client, "get_history", driver_id=driver).get_json()["history"]
        assert row["deliveries_completed"] == 3
        assert get(client, "get_targets", driver_id=driver).get_json()["status"] == "available"


# 4. One INSERT per driver (not atomic) and `target_deliveries || 20`.
def test_4_an_explicit_zero_is_not_replaced_by_the_default(client, driver_id):
    post(client, "set_targets", [{"driver_id": driver_id, "target_deliveries": 0}])
    assert get(client, "get_targets", driver_id=driver_id).get_json()["target_deliveries"] == 0


def test_4_a_batch_failing_half_way_writes_nothing(client, driver_id):
    batch = [{"driver_id": f"{driver_id}-{n}"} for n in range(50)]
    batch[25]["target_revenue"] = -1
    assert post(client, "set_targets", batch).status_code == 400
    assert get(client, "get_targets", driver_id=f"{driver_id}-0").status_code == 404


# 5. Progress for an unknown driver updated 0 rows and reported nothing.
def test_5_progress_for_an_unknown_driver_is_404(client, driver_id):
    response = post(client, "update_progress", {"driver_id": driver_id, "deliveries": 1})
    assert response.status_code == 404
    assert error_of(response)["code"] == "driver_not_found"
    assert get(client, "get_targets", driver_id=driver_id).status_code == 404


# 6. Percentages divided by the target with no guard for 0.
def test_6_a_zero_target_is_reached_not_a_division_by_zero(client, engine, driver_id):
    post(
        client,
        "set_targets",
        [{"driver_id": driver_id, "target_deliveries": 0, "target_revenue": 0}],
    )
    body = get(client, "get_targets", driver_id=driver_id).get_json()
    assert (body["deliveries_percentage"], body["revenue_percentage"]) == (100, 100)
    assert (body["achievement_percentage"], body["target_achieved"]) == (100, True)

    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO driver_performance_history (driver_id, date, deliveries_completed,"
                " revenue_generated, target_deliveries, target_revenue)"
                " VALUES (:id, CURRENT_DATE - 2, 4, 10, 0, 0)"
            ),
            {"id": driver_id},
        )
    (row,) = get(client, "get_history", driver_id=driver_id).get_json()["history"]
    assert (row["achievement_percentage"], row["target_achieved"]) == (100, True)


# 7. Routes answered `{}` (async calls not awaited): every function answers its content.
def test_7_every_function_answers_its_content(client, driver_id):
    answers = {
        "set_targets": post(client, "set_targets", [{"driver_id": driver_id}]),
        "update_progress": post(
            client, "update_progress", {"driver_id": driver_id, "deliveries": 1}
        ),
        "get_targets": get(client, "get_targets", driver_id=driver_id),
        "get_targets (list)": get(client, "get_targets", limit=1),
        "get_history": get(client, "get_history", driver_id=driver_id),
        "top_performers": get(client, "top_performers"),
        "snapshot_daily": post(client, "snapshot_daily", {"date": "2000-01-01"}),
    }
    required = {
        "set_targets": {"count"},
        "update_progress": {"driver_id", "current_deliveries", "replayed"},
        "get_targets": {"driver_id", "target_deliveries", "current_deliveries", "status"},
        "get_targets (list)": {"drivers", "next_after"},
        "get_history": {"driver_id", "history"},
        "top_performers": {"performers"},
        "snapshot_daily": {"date", "drivers_snapshotted", "reset", "already_done"},
    }
    for name, response in answers.items():
        assert response.status_code == 200, (name, response.get_json())
        assert required[name] <= set(response.get_json()), name
    assert answers["update_progress"].get_json()["current_deliveries"] == 1


# 8. Start-up migration raced (check, then create) and recorded nothing.
def test_8_concurrent_migrations_apply_each_file_once(databases):
    url = databases.create()
    bundles = [build_engine(Settings(database_url=url, migrate_on_start=False)) for _ in range(4)]
    results, failures = [], []

    def run(bundle):
        try:
            results.append(migrate(bundle.engine))
        except Exception as exc:
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(b,)) for b in bundles]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert failures == []
        names = [m.name for m in load_migrations()]
        assert sorted(results, key=len) == [[]] * 3 + [names]
        with bundles[0].engine.connect() as conn:
            count = conn.execute(sa.text("SELECT count(*) FROM schema_migrations")).scalar_one()
        assert count == len(names)
    finally:
        for bundle in bundles:
            bundle.close()


# 9. CURRENT_DATE (the database server's date) used as the business day.
@pytest.mark.parametrize("zone", ["Etc/GMT-14", "Etc/GMT+12"])
def test_9_progress_lands_on_the_fleets_business_day(fresh_engine, client, zone):
    post(client, "set_targets", [{"driver_id": "z"}])
    os.environ["FLEET_TIMEZONE"] = zone
    get_settings.cache_clear()
    try:
        recorded = post(client, "update_progress", {"driver_id": "z", "deliveries": 1}).get_json()
        expected = dt.datetime.now(get_settings().timezone).date()
    finally:
        os.environ["FLEET_TIMEZONE"] = "UTC"
        get_settings.cache_clear()
    assert recorded["business_date"] == expected.isoformat()


# 10. TLS without verifying the server (rejectUnauthorized: false).
def test_10_tls_to_the_database_verifies_the_server():
    contexts = [
        pg8000_params_from_url("postgresql://u@db.example:5432/fleet?sslmode=require")[
            "ssl_context"
        ],
        local_params(Settings(db_host="db.example", db_ssl=True, database_url=None))["ssl_context"],
    ]
    for context in contexts:
        assert context.verify_mode == ssl.CERT_REQUIRED
        assert context.check_hostname is True
