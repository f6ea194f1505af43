"""Identity on real gunicorn processes: login, JWKS, rotation across workers."""

import time

import jwt
import pytest
import requests

from devstack.stack import Stack


def test_a_login_token_verifies_with_pyjwt_against_the_published_jwks(stack):
    tokens = stack.login("alice")
    gateway = stack.url("gateway")
    config = requests.get(f"{gateway}/.well-known/openid-configuration", timeout=10)
    assert config.json()["issuer"] == gateway
    response = requests.get(config.json()["jwks_uri"], timeout=10)
    assert response.status_code == 200
    assert "max-age" in response.headers["Cache-Control"]
    kid = jwt.get_unverified_header(tokens["access"])["kid"]
    key = jwt.PyJWKSet.from_dict(response.json())[kid]
    claims = jwt.decode(
        tokens["access"], key, algorithms=["RS256"], audience="orders", issuer=gateway
    )
    assert claims["username"] == "alice"
    assert claims["token_type"] == "access"
    me = requests.get(
        f"{gateway}/auth/me/",
        headers={"Authorization": f"Bearer {tokens['access']}"},
        timeout=10,
    )
    assert me.json() == claims


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory):
    """A stack of its own (its keys get rotated), with two gateway workers."""
    running = Stack(
        tmp_path_factory.mktemp("stack-identity"),
        "sqlite",
        extra_env={"E2E_WORKERS": "2", "E2E_THREADS": "2"},
    )
    try:
        yield running.setup()
    finally:
        running.close()


def kid_of(token: str) -> str:
    return jwt.get_unverified_header(token)["kid"]


def test_rotation_reaches_every_running_worker(two_workers):
    gateway = two_workers.url("gateway")
    before = two_workers.login("alice")
    two_workers.manage("gateway", "rotate_signing_key")
    jwks = requests.get(f"{gateway}/.well-known/jwks.json", timeout=10).json()
    assert len(jwks["keys"]) == 2
    new_kid = jwks["keys"][0]["kid"]
    assert new_kid != kid_of(before["access"])
    # Many fresh connections: both workers answer, and every one signs anew.
    kids = {kid_of(two_workers.login("bob")["access"]) for _ in range(8)}
    assert kids == {new_kid}
    for _ in range(4):
        verify = requests.post(
            f"{gateway}/auth/token/verify/",
            json={"token": before["access"]},
            timeout=10,
        )
        assert verify.status_code == 200
    order_list = requests.get(
        f"{gateway}/api/orders/",
        headers={"Authorization": f"Bearer {before['access']}"},
        timeout=10,
    )
    assert order_list.status_code != 401


def test_services_accept_the_new_kid_without_a_restart(two_workers):
    def get(name: str, token: str) -> requests.Response:
        return requests.get(
            f"{two_workers.url(name)}/api/{name}/",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )

    old = two_workers.login("alice")["access"]
    for name in ("orders", "customers"):
        assert get(name, old).status_code == 200  # each service holds the key set
    held_since = time.monotonic()
    two_workers.manage("gateway", "rotate_signing_key")
    new = two_workers.login("alice")["access"]
    assert kid_of(new) != kid_of(old)
    # An unknown kid is fetched at most once per JWKS_MIN_REFETCH_INTERVAL (1 s).
    time.sleep(max(0.0, held_since + 1.0 - time.monotonic()))
    for name in ("orders", "customers"):
        assert get(name, new).status_code == 200
        assert get(name, old).status_code == 200


def test_failed_logins_are_throttled_on_the_real_gateway(two_workers):
    url = f"{two_workers.url('gateway')}/auth/token/"
    body = {"username": "alice", "password": "wrong"}
    statuses = [requests.post(url, json=body, timeout=10).status_code for _ in range(6)]
    assert statuses == [401] * 5 + [429]
