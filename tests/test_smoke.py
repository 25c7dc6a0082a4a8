from tests.helpers import get, post


def test_set_then_get(client, driver_id):
    response = post(client, "set_targets", [{"driver_id": driver_id, "target_deliveries": 5}])
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"count": 1}
    body = get(client, "get_targets", driver_id=driver_id).get_json()
    assert body["target_deliveries"] == 5
