"""The JWKS client: caching, throttled refetch, and surviving a faulty gateway."""

import logging
import socket
import uuid

import pytest

from shared_auth.jwks import JWKSClient, KeysUnavailable, UnknownKey, get_jwks_client
from tests.shared_auth.conftest import public_jwk
from tests.support.clock import Clock
from tests.support.tokens import KID

WARNING = "JWKS fetch from"


@pytest.fixture
def clock(jwks_server) -> Clock:
    """The clock of the process-wide client for the test's JWKS server."""
    fake = Clock()
    get_jwks_client().clock = fake
    return fake


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def refused_url() -> str:
    """Return a URL on 127.0.0.1 where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/jwks.json"


def test_keys_cached_until_ttl_then_refreshed(jwks_server, clock, settings):
    client = get_jwks_client()
    for _ in range(10):
        assert client.get_signing_key(KID).key_id == KID
    assert jwks_server.hits["/jwks.json"] == 1
    clock.now += settings.SHARED_AUTH.get("JWKS_CACHE_TTL", 300) + 1
    client.get_signing_key(KID)
    assert jwks_server.hits["/jwks.json"] == 2


@pytest.mark.parametrize(
    "failure",
    [
        (500, "application/json", "{}"),
        (200, "text/html", "<html><body>Maintenance</body></html>"),
        (200, "application/json", '{"keys": []}'),
        (200, "application/json", "[]"),
        (302, "application/json", "{}"),
        "hang",
        "stall",
    ],
    ids=[
        "http 500",
        "html 200",
        "empty set",
        "not an object",
        "redirect",
        "hang",
        "stall mid-body",
    ],
)
def test_failed_refresh_keeps_last_good_keys(
    api, jwks_server, clock, make_token, caplog, failure
):
    assert api.get("/whoami/", **bearer(make_token())).status_code == 200
    jwks_server.routes["/jwks.json"] = failure
    clock.now += 301
    with caplog.at_level(logging.WARNING):
        response = api.get("/whoami/", **bearer(make_token()))
    assert response.status_code == 200
    assert jwks_server.hits["/jwks.json"] == 2
    assert WARNING in caplog.text
    # The failure is not retried on every request: once per interval.
    assert api.get("/whoami/", **bearer(make_token())).status_code == 200
    assert jwks_server.hits["/jwks.json"] == 2


@pytest.mark.parametrize(
    "failure",
    [
        (503, "text/plain", "down"),
        (200, "text/html", "<!doctype html><title>Login</title>"),
        (200, "application/json", '{"keys": []}'),
        (200, "application/json", '{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}'),
        (200, "application/json", "null"),
        (200, "application/json", "[" * 5000 + "]" * 5000),
        "hang",
        "stall",
    ],
    ids=[
        *("http 503", "html 200", "empty set", "only oct key", "null"),
        *("nested deep", "hang", "stall"),
    ],
)
def test_no_keys_ever_is_a_clean_503(api, jwks_server, make_token, caplog, failure):
    jwks_server.routes["/jwks.json"] = failure
    with caplog.at_level(logging.WARNING):
        response = api.get("/whoami/", **bearer(make_token()))
    assert response.status_code == 503
    assert set(response.json()) == {"detail"}
    assert "keys" in response.json()["detail"]
    assert WARNING in caplog.text


def test_refused_connection_is_a_clean_503(api, make_token, settings, caplog):
    settings.SHARED_AUTH = {**settings.SHARED_AUTH, "JWKS_URL": refused_url()}
    with caplog.at_level(logging.WARNING):
        response = api.get("/whoami/", **bearer(make_token()))
    assert response.status_code == 503
    assert set(response.json()) == {"detail"}
    assert WARNING in caplog.text


def test_recovers_when_the_gateway_comes_back(
    api, jwks_server, clock, make_token, rsa_key
):
    jwks_server.routes["/jwks.json"] = (502, "text/plain", "bad gateway")
    assert api.get("/whoami/", **bearer(make_token())).status_code == 503
    jwks_server.serve_jwks(public_jwk(rsa_key, KID))
    # Within the interval the failed fetch is not retried...
    assert api.get("/whoami/", **bearer(make_token())).status_code == 503
    assert jwks_server.hits["/jwks.json"] == 1
    # ...after it, it is.
    clock.now += 11
    assert api.get("/whoami/", **bearer(make_token())).status_code == 200
    assert jwks_server.hits["/jwks.json"] == 2


def test_random_kid_flood_refetches_at_most_once_per_interval(
    api, jwks_server, clock, make_token
):
    assert api.get("/whoami/", **bearer(make_token())).status_code == 200
    for _ in range(30):
        token = make_token(headers={"kid": uuid.uuid4().hex})
        assert api.get("/whoami/", **bearer(token)).status_code == 401
    assert jwks_server.hits["/jwks.json"] == 1
    clock.now += 11
    for _ in range(30):
        token = make_token(headers={"kid": uuid.uuid4().hex})
        assert api.get("/whoami/", **bearer(token)).status_code == 401
    assert jwks_server.hits["/jwks.json"] == 2


def test_rotated_key_is_picked_up_without_restart(
    api, jwks_server, clock, make_token, rsa_key, attacker_rsa_key
):
    assert api.get("/whoami/", **bearer(make_token())).status_code == 200
    jwks_server.serve_jwks(
        public_jwk(rsa_key, KID), public_jwk(attacker_rsa_key, "key-2")
    )
    new_token = make_token(attacker_rsa_key, headers={"kid": "key-2"})
    clock.now += 11
    assert api.get("/whoami/", **bearer(new_token)).status_code == 200
    assert api.get("/whoami/", **bearer(make_token())).status_code == 200
    assert jwks_server.hits["/jwks.json"] == 2


def test_replicas_share_one_fetch_through_the_django_cache(jwks_server, settings):
    url = settings.SHARED_AUTH["JWKS_URL"]
    first, second = JWKSClient(url), JWKSClient(url)
    assert first.get_signing_key(KID).key_id == KID
    assert second.get_signing_key(KID).key_id == KID
    assert jwks_server.hits["/jwks.json"] == 1


def test_unknown_kid_and_unavailable_errors(jwks_server, settings):
    client = JWKSClient(settings.SHARED_AUTH["JWKS_URL"])
    with pytest.raises(UnknownKey):
        client.get_signing_key("nope")
    broken = JWKSClient(refused_url())
    with pytest.raises(KeysUnavailable):
        broken.get_signing_key(KID)


def test_cache_outage_degrades_to_process_memory(
    api, jwks_server, make_token, settings, caplog
):
    settings.SHARED_AUTH = {**settings.SHARED_AUTH, "CACHE_ALIAS": "broken"}
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            assert api.get("/whoami/", **bearer(make_token())).status_code == 200
        token = make_token(headers={"kid": "forged"})
        assert api.get("/whoami/", **bearer(token)).status_code == 401
    assert jwks_server.hits["/jwks.json"] == 1
    assert "JWKS cache" in caplog.text


def test_stale_keys_served_while_another_thread_refreshes(jwks_server, clock):
    client = get_jwks_client()
    client.get_signing_key(KID)
    clock.now += 301
    client._lock.acquire()  # another thread is fetching (e.g. from a hung gateway)
    try:
        assert client.get_signing_key(KID).key_id == KID
    finally:
        client._lock.release()
    assert jwks_server.hits["/jwks.json"] == 1
