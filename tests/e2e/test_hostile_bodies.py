"""Hostile bodies at every JSON endpoint of the real stack: never a 5xx.

Each body goes to the gateway's /auth/ endpoints, to each service's write
endpoints directly, and to the same endpoints through the gateway's proxy
(which forwards the body: the service answers). Every answer must be a 4xx
with the JSON error shape ``{"detail", "code"}`` (issue 14, item 2).
"""

import json

import pytest
import requests

from devstack.stack import Stack

TIMEOUT = 30
JSON = "application/json"


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


HOSTILE = {
    "nested 1000": (nested(1000), JSON),
    "nested 100000": (nested(100_000), JSON),
    "nested objects": (b'{"a":' * 5000 + b"1" + b"}" * 5000, JSON),
    "1 MB string": (json.dumps({"name": "a" * 1_000_000}).encode(), JSON),
    "100000 keys": (json.dumps({f"k{i}": 1 for i in range(100_000)}).encode(), JSON),
    "invalid UTF-8": (b'{"name": "\xff\xfe\xc3\x28"}', JSON),
    "lone surrogate": (b'{"name": "\\udc00", "username": "\\ud800"}', JSON),
    "wrong content type": (b'{"name": "a"}', "text/plain"),
    "xml": (b"<name>a</name>", "application/xml"),
    "NaN": (b'{"total": NaN, "credit_limit": NaN, "token": NaN}', JSON),
    "Infinity": (b'{"total": Infinity, "amount": -Infinity}', JSON),
    "duplicate keys": (b'{"username": "alice", "username": "admin"}', JSON),
    "truncated": (b'{"name": "a', JSON),
    "charset bomb": (b'{"name": "a"}', "application/json; charset=bz2_codec"),
}


@pytest.fixture(scope="module")
def endpoints(stack: Stack) -> list[tuple[str, str, dict]]:
    """Return ``(method, url, headers)`` of every JSON endpoint to attack."""
    gateway = stack.url("gateway")
    auth = {"Authorization": f"Bearer {stack.login('alice')['access']}"}
    customer = requests.post(
        f"{gateway}/api/customers/",
        json={"name": "hostile target", "credit_limit": "100.00"},
        headers=auth,
        timeout=TIMEOUT,
    )
    customer.raise_for_status()
    customer_id = customer.json()["id"]
    service_paths = [
        ("POST", "orders", "/api/orders/"),
        ("POST", "customers", "/api/customers/"),
        ("PUT", "customers", f"/api/customers/{customer_id}/"),
        ("PATCH", "customers", f"/api/customers/{customer_id}/"),
        ("POST", "customers", f"/api/customers/{customer_id}/reservations/"),
    ]
    targets = [
        ("POST", f"{gateway}{path}", {})
        for path in (
            "/auth/token/",
            "/auth/token/refresh/",
            "/auth/token/verify/",
            "/auth/logout/",
        )
    ]
    for method, service, path in service_paths:
        targets.append((method, f"{stack.url(service)}{path}", auth))
        targets.append((method, f"{gateway}{path}", auth))
    return targets


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_bodies_get_a_json_4xx_everywhere(stack, endpoints, name):
    body, content_type = HOSTILE[name]
    failures = []
    for method, url, headers in endpoints:
        response = requests.request(
            method,
            url,
            data=body,
            headers={**headers, "Content-Type": content_type},
            timeout=TIMEOUT,
        )
        try:
            error = response.json()
        except ValueError:
            error = None
        if not (
            400 <= response.status_code < 500
            and isinstance(error, dict)
            and {"detail", "code"} <= set(error)
        ):
            failures.append((method, url, response.status_code, response.text[:200]))
    assert failures == []


def test_the_stack_still_works_after_the_attack(stack):
    tokens = stack.login("alice")
    response = requests.get(
        f"{stack.url('gateway')}/api/orders/",
        headers={"Authorization": f"Bearer {tokens['access']}"},
        timeout=TIMEOUT,
    )
    assert response.status_code == 200
