"""The fixtures themselves: `engine`, `fresh_engine` and `client` agree on one database whatever
the order a test asks for them in, and a test's own database gives way to the one in use."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tests.helpers import current_database_url, set_target, using_database


def database_of(engine):
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT current_database()")).scalar_one()


def stored(engine, driver_id):
    with engine.connect() as conn:
        return conn.execute(
            sa.text("SELECT count(*) FROM driver_targets WHERE driver_id = :d"), {"d": driver_id}
        ).scalar_one()


def test_client_asked_before_fresh_engine_serves_the_fresh_database(
    client, fresh_engine, session_database, driver_id
):
    set_target(client, driver_id)
    assert stored(fresh_engine, driver_id) == 1
    assert database_of(fresh_engine) != make_url(session_database).database


def test_engine_asked_before_fresh_engine_is_the_fresh_engine(
    engine, client, fresh_engine, session_database, driver_id
):
    assert engine is fresh_engine
    set_target(client, driver_id)
    assert stored(engine, driver_id) == 1
    assert database_of(engine) != make_url(session_database).database


@pytest.fixture(scope="module")
def module_database(databases):
    with using_database(databases.create_migrated()) as url:
        yield url


def test_a_fresh_engine_inside_a_module_database(module_database, fresh_engine):
    assert database_of(fresh_engine) != make_url(module_database).database


def test_the_module_database_is_in_use_again_after_a_fresh_one(module_database, engine, client):
    assert current_database_url() == module_database
    assert database_of(engine) == make_url(module_database).database
