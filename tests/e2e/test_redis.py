"""Replicas on one Redis share the Django cache (REDIS_URL).

Two gateway processes count failed logins together, and the JWKS one customers
process fetched serves a second one. Every key of this run carries its own
CACHE_KEY_PREFIX, so parallel runs on the same Redis do not collide, and is
deleted at the end.
"""

import os
import uuid

import pytest
import redis
import requests

from devstack.stack import PASSWORDS, Stack, free_port

REDIS_URL = os.environ.get("E2E_REDIS_URL", "redis://127.0.0.1:6379/0")
JWKS_PATH = "/.well-known/jwks.json"


@pytest.fixture(scope="module")
def prefix():
    """A cache key prefix of this run; its keys are removed afterwards."""
    value = f"e2e-{uuid.uuid4().hex[:12]}"
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    yield value
    keys = list(client.scan_iter(f"{value}:*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(scope="module")
def replicas(tmp_path_factory, prefix):
    """Return two stacks whose gateways and customers are replicas of each other.

    The second runs a gateway and a customers process on ports of its own, with
    the first one's environment: same issuer, keys, databases and Redis.
    """
    first = Stack(
        tmp_path_factory.mktemp("redis-a"),
        extra_env={"REDIS_URL": REDIS_URL, "CACHE_KEY_PREFIX": prefix},
    )
    second = Stack(
        tmp_path_factory.mktemp("redis-b"),
        ports={**first.ports, "gateway": free_port(), "customers": free_port()},
    )
    second.env = first.env
    try:
        first.setup()
        second.start("gateway")
        second.start("customers")
        yield first, second
    finally:
        second.close()
        first.close()


def redis_keys(pattern: str) -> list[bytes]:
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    try:
        return list(client.scan_iter(pattern))
    finally:
        client.close()


def login(gateway: str, username: str, password: str) -> requests.Response:
    return requests.post(
        f"{gateway}/auth/token/",
        json={"username": username, "password": password},
        timeout=10,
    )


def test_failed_logins_are_counted_across_gateways(replicas, prefix):
    first, second = (stack.url("gateway") for stack in replicas)
    # Five failures, three on one gateway and two on the other: neither reaches
    # the limit (5 per minute per username) on its own.
    for gateway in (first, second, first, second, first):
        assert login(gateway, "alice", "wrong-password").status_code == 401
    assert redis_keys(f"{prefix}:*throttle_login_username_*")

    for gateway in (second, first):
        refused = login(gateway, "alice", PASSWORDS["alice"])
        assert refused.status_code == 429, refused.text
        assert refused.json()["detail"]
    # Per username: somebody else still logs in on both.
    for gateway in (first, second):
        assert login(gateway, "bob", PASSWORDS["bob"]).status_code == 200


def jwks_fetches(stack: Stack) -> int:
    log = stack.log_path("gateway").read_text()
    return sum(f"GET {JWKS_PATH}" in line for line in log.splitlines())


def test_one_jwks_fetch_serves_every_replica(replicas, prefix):
    first, second = replicas
    access = first.login("bob")["access"]
    headers = {"Authorization": f"Bearer {access}"}
    assert jwks_fetches(first) == 0

    for stack in (first, second):
        response = requests.get(
            f"{stack.url('customers')}/api/customers/", headers=headers, timeout=10
        )
        assert response.status_code == 200, response.text

    # The first customers process fetched the key set and stored it in Redis;
    # the second found it there and did not ask the gateway again.
    assert jwks_fetches(first) == 1
    assert jwks_fetches(second) == 0
    assert redis_keys(f"{prefix}:*shared_auth:jwks:*")
