"""Which webhook URLs are accepted: checked by shared.webhooks.urls.check_url when subscribing
(and before each send), with the loopback setting on and off."""

from __future__ import annotations

from typing import Any

import pytest

from shared.errors import UnsafeUrl
from shared.webhooks.urls import check_url
from tests.helpers import error_of, get, post
from tests.webhook_receiver import settings_env


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/hooks\r\nX-Injected: 1",
        "https://example.com/ho\noks",
        "https://example.com/\thooks",
        "https://exa\tmple.com/hooks",
        "https://example.com/hooks ",
        "https://example.com/a b",
        "https://example.com/\x00",
        "https://example.com/\x7f",
    ],
)
def test_control_characters_and_spaces_are_refused(url: str) -> None:
    with pytest.raises(UnsafeUrl, match="spaces or control characters") as refused:
        check_url(url, allow_loopback_http=True)
    assert refused.value.field == "url"


def test_a_refused_url_is_not_stored(client: Any) -> None:
    url = "https://example.com/hooks\r\n"
    before = get(client, "manage_webhooks").get_json()["subscriptions"]
    response = post(client, "manage_webhooks", {"url": url, "events": ["day_closed"]})
    assert response.status_code == 400
    assert (error_of(response)["code"], error_of(response)["field"]) == ("unsafe_url", "url")
    assert get(client, "manage_webhooks").get_json()["subscriptions"] == before


@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "[::1]", "localhost"])
def test_loopback_follows_the_local_setting_for_http_and_https(scheme: str, host: str) -> None:
    url = f"{scheme}://{host}:9000/hooks"
    assert check_url(url, allow_loopback_http=True).port == 9000
    with pytest.raises(UnsafeUrl):
        check_url(url, allow_loopback_http=False)


@pytest.mark.parametrize("url", ["http://10.0.0.1/", "http://192.168.1.1/", "http://8.8.8.8/"])
def test_http_to_anything_but_loopback_is_refused_even_locally(url: str) -> None:
    with pytest.raises(UnsafeUrl, match="https"):
        check_url(url, allow_loopback_http=True)


def test_https_loopback_can_be_subscribed_locally(client: Any) -> None:
    with settings_env(WEBHOOKS_ALLOW_LOOPBACK_HTTP="true"):
        created = post(
            client, "manage_webhooks", {"url": "https://127.0.0.1:9443/h", "events": ["day_closed"]}
        )
    assert created.status_code == 201, created.get_json()
    assert (
        client.delete("/manage_webhooks", query_string={"id": created.get_json()["id"]}).status_code
        == 200
    )
