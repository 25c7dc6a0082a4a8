"""Teams: set by set_targets (absent keeps, null clears), filtered by get_targets, kept per day in
history so a move never rewrites the past."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa

from tests.helpers import error_of, get, post


def team_of(client, driver_id):
    response = get(client, "get_targets", driver_id=driver_id)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["team"]


def test_absent_team_keeps_it_and_null_clears_it(client, driver_id):
    assert (
        post(client, "set_targets", [{"driver_id": driver_id, "team": "north"}]).status_code == 200
    )
    assert team_of(client, driver_id) == "north"

    post(client, "set_targets", [{"driver_id": driver_id, "target_deliveries": 7}])
    assert team_of(client, driver_id) == "north"

    post(client, "set_targets", {"drivers": [{"driver_id": driver_id, "team": None}]})
    assert team_of(client, driver_id) is None


def test_one_batch_mixes_keep_set_and_clear(client):
    ids = [f"mix-{uuid.uuid4().hex[:8]}-{n}" for n in range(3)]
    post(client, "set_targets", [{"driver_id": i, "team": "old"} for i in ids])
    response = post(
        client,
        "set_targets",
        [
            {"driver_id": ids[0]},
            {"driver_id": ids[1], "team": "new"},
            {"driver_id": ids[2], "team": None},
        ],
    )
    assert response.get_json() == {"count": 3}
    assert [team_of(client, i) for i in ids] == ["old", "new", None]


@pytest.mark.parametrize("team", ["", "x" * 65, 5, ["a"]])
def test_a_bad_team_writes_nothing(client, driver_id, team):
    response = post(
        client,
        "set_targets",
        [{"driver_id": f"{driver_id}-ok", "team": "fine"}, {"driver_id": driver_id, "team": team}],
    )
    assert response.status_code == 400
    assert error_of(response)["field"] == "drivers[1].team"
    assert get(client, "get_targets", driver_id=f"{driver_id}-ok").status_code == 404


def test_get_targets_filters_by_team_with_paging(client):
    team = f"team-{uuid.uuid4().hex[:8]}"
    members = sorted(f"{team}-d{n}" for n in range(5))
    post(client, "set_targets", [{"driver_id": d, "team": team} for d in members])
    post(client, "set_targets", [{"driver_id": f"{team}-other", "team": "elsewhere"}])

    seen, after = [], None
    while True:
        params = {"team": team, "limit": 2, **({"after": after} if after else {})}
        body = get(client, "get_targets", **params).get_json()
        seen += [row["driver_id"] for row in body["drivers"]]
        assert all(row["team"] == team for row in body["drivers"])
        after = body["next_after"]
        if after is None:
            break
    assert seen == members


def test_history_keeps_the_team_of_the_day(fresh_engine, client, driver_id):
    today = dt.datetime.now(dt.UTC).date()
    post(client, "set_targets", [{"driver_id": driver_id, "team": "north"}])
    post(client, "update_progress", {"driver_id": driver_id, "deliveries": 3})
    assert post(client, "snapshot_daily", {"date": today.isoformat()}).status_code == 200

    post(client, "set_targets", [{"driver_id": driver_id, "team": "south"}])
    history = get(client, "get_history", driver_id=driver_id).get_json()["history"]
    assert [(row["date"], row["team"]) for row in history] == [(today.isoformat(), "north")]
    assert team_of(client, driver_id) == "south"


def test_team_index_serves_the_team_page(engine):
    with engine.begin() as conn:
        conn.execute(sa.text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(
            conn.execute(
                sa.text(
                    "EXPLAIN SELECT driver_id FROM driver_targets"
                    " WHERE team = 'x' AND driver_id > 'a' ORDER BY driver_id LIMIT 10"
                )
            ).scalars()
        )
    assert "driver_targets_team_driver_idx" in plan, plan
