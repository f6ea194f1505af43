"""Hostile JSON bodies at the gateway's /auth/ endpoints: 400 parse_error, never 500.

Also JSON the gateway parses outside DRF: a token's header, at the token
endpoints, at /auth/me/ and at the proxy's edge authentication.
"""

import json

import pytest
from django.test import Client

from tests.support.tokens import b64url as b64

pytestmark = pytest.mark.django_db

AUTH_ENDPOINTS = [
    "/auth/token/",
    "/auth/token/refresh/",
    "/auth/token/verify/",
    "/auth/logout/",
]


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


HOSTILE = {
    "nested 1000": nested(1000),
    "nested 2000 objects": '{"a":' * 2000 + "1" + "}" * 2000,
    "nested 33": '{"username": ' + nested(33) + "}",
    "duplicate keys": '{"username": "alice", "username": "admin", "password": "x"}',
    "NaN": '{"username": NaN, "password": "x"}',
    "Infinity": '{"token": Infinity}',
    "lone surrogate": '{"username": "\\ud800", "password": "x"}',
    "many keys": json.dumps({f"k{i}": 1 for i in range(1001)}),
    "long string": json.dumps({"token": "a" * 10_001}),
}


@pytest.mark.parametrize("path", AUTH_ENDPOINTS)
@pytest.mark.parametrize("body", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_json_is_400_parse_error(api, path, body):
    response = api.post(path, body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "parse_error"
    assert response.json()["detail"].startswith("JSON parse error")


@pytest.mark.parametrize("path", AUTH_ENDPOINTS)
def test_invalid_utf8_is_400_parse_error(api, path):
    response = api.post(path, b'{"token": "\xff\xfe"}', content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "parse_error"


def test_deep_json_under_debug_is_400_json_not_the_debug_page(settings, api):
    settings.DEBUG = True
    response = api.post(
        "/auth/token/", nested(100_000), content_type="application/json"
    )
    # 100,000 levels are 200 kB: over the 16 kB limit of the token endpoints.
    assert response.status_code == 413
    response = api.post("/auth/token/", nested(5000), content_type="application/json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "parse_error"


def test_ordinary_bodies_still_parse(alice, login):
    assert login("alice").status_code == 200


def deep_header_token() -> str:
    header = '{"alg": "RS256", "kid": ' + nested(3000) + "}"
    return b64(header.encode()) + "." + b64(b"{}") + ".c2ln"


@pytest.mark.parametrize("path", ["/auth/token/verify/", "/auth/token/refresh/"])
def test_a_token_with_a_deeply_nested_header_is_401(api, path):
    field = "token" if path.endswith("verify/") else "refresh"
    response = api.post(path, {field: deep_header_token()}, format="json")
    assert response.status_code == 401, response.content


@pytest.mark.parametrize("path", ["/auth/me/", "/api/orders/"])
def test_a_bearer_token_with_a_deeply_nested_header_is_401(path):
    client = Client(raise_request_exception=False)
    response = client.get(path, HTTP_AUTHORIZATION="Bearer " + deep_header_token())
    assert response.status_code == 401, response.content
    assert response.json()["detail"]
