"""Hostile input at /auth/token/verify/ and /auth/token/refresh/: never a 500."""

import functools
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import get_default_algorithms

from gateway_project.identity import keys
from tests.support.tokens import b64url as b64
from tests.support.tokens import forge, gateway_claims, gateway_signed

pytestmark = pytest.mark.django_db

ENDPOINTS = [("/auth/token/verify/", "token"), ("/auth/token/refresh/", "refresh")]
# The type of the forged tokens: refresh for the endpoints above, access for
# the bearer tests (so that only the forged part can be why they are refused).
TOKEN_TYPE = "refresh"


# Signed with the gateway's key; no typ unless told (PyJWT then writes typ: JWT).
signed = functools.partial(gateway_signed, typ=None)


def claims(**extra) -> dict:
    """The gateway's claims of a ``TOKEN_TYPE`` token, with ``extra``."""
    return gateway_claims(**{"token_type": TOKEN_TYPE, "sub": "1", **extra})


def alg_none() -> str:
    header = {"alg": "none", "typ": "JWT", "kid": keys.signing_key().kid}
    return forge(header, claims(), lambda msg: b"")


def hs256_with_the_public_key() -> str:
    key = keys.signing_key()
    pem = key.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": key.kid}
    return forge(
        header, claims(), lambda msg: hmac.new(pem, msg, hashlib.sha256).digest()
    )


def unknown_kid() -> str:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(claims(), stranger, "RS256", headers={"kid": "unknown"})


def stranger_with_our_kid() -> str:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    headers = {"kid": keys.signing_key().kid}
    return jwt.encode(claims(), stranger, "RS256", headers=headers)


def expired() -> str:
    return signed(claims(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600))


def tampered() -> str:
    head, _, signature = signed(claims()).split(".")
    return ".".join([head, b64(json.dumps(claims(sub="2")).encode()), signature])


def alg_mismatch() -> str:
    header = {"alg": "ES256", "typ": "JWT", "kid": keys.signing_key().kid}
    return forge(header, claims(), lambda msg: b"\x00" * 64)


def kid_not_a_string() -> str:
    key = keys.signing_key()
    rs256 = get_default_algorithms()["RS256"]
    header = {"alg": "RS256", "typ": "JWT", "kid": 123}
    return forge(header, claims(), lambda msg: rs256.sign(msg, key.private_key))


HOSTILE_TOKENS = {
    "alg none": alg_none,
    "HS256 keyed with the public key": hs256_with_the_public_key,
    "unknown kid": unknown_kid,
    "our kid, another key": stranger_with_our_kid,
    "expired": expired,
    "tampered payload": tampered,
    "alg not the key's": alg_mismatch,
    "kid not a string": kid_not_a_string,
    "wrong issuer": lambda: signed(claims(iss="https://evil.example")),
    "wrong audience": lambda: signed(claims(aud=["elsewhere"])),
    "no exp": lambda: signed({k: v for k, v in claims().items() if k != "exp"}),
    "garbage": lambda: "garbage",
    "three garbage parts": lambda: "a.b.c",
    "bad base64": lambda: "!!!.###.$$$",
    "header not json": lambda: b64(b"[1,2") + "." + b64(b"{}") + ".sig",
    "unicode": lambda: "\u00e9\u2603.\u00e9.\u00e9",
}


@pytest.mark.parametrize(("path", "field"), ENDPOINTS)
@pytest.mark.parametrize("make", HOSTILE_TOKENS.values(), ids=HOSTILE_TOKENS.keys())
def test_hostile_tokens_are_401(api, path, field, make):
    response = api.post(path, {field: make()}, format="json")
    assert response.status_code == 401, response.content
    assert response.json()["detail"]


@pytest.mark.parametrize(("path", "field"), ENDPOINTS)
@pytest.mark.parametrize(
    "body", [{}, [], "text", None, 1, {"x": 1}], ids=lambda b: repr(b)[:10]
)
def test_malformed_bodies_are_400_json(api, path, field, body):
    response = api.post(path, json.dumps(body), content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json()["detail"]


@pytest.mark.parametrize(("path", "field"), ENDPOINTS)
@pytest.mark.parametrize("value", [["a"], {"a": 1}, "", None])
def test_non_string_tokens_are_400_json(api, path, field, value):
    response = api.post(path, {field: value}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["detail"]


@pytest.mark.parametrize(("path", "field"), ENDPOINTS)
def test_invalid_json_is_400_json(api, path, field):
    response = api.post(path, "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error")


@pytest.mark.parametrize(
    "path", ["/auth/token/verify/", "/auth/token/refresh/", "/auth/token/"]
)
def test_oversized_bodies_are_413_json(api, path):
    body = json.dumps({"token": "a" * 100_000, "refresh": "a" * 100_000})
    response = api.post(path, body, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["detail"] == "Request body too large."


def test_a_long_token_within_the_body_limit_is_401(api):
    body = {"token": "a." * 4000 + "a"}
    response = api.post("/auth/token/verify/", body, format="json")
    assert response.status_code == 401


@pytest.fixture
def forged_access_tokens(monkeypatch):
    monkeypatch.setattr(f"{__name__}.TOKEN_TYPE", "access")


def test_a_well_formed_forgery_control_is_accepted(api, forged_access_tokens):
    api.credentials(HTTP_AUTHORIZATION="Bearer " + signed(claims(), typ="at+jwt"))
    assert api.get("/auth/me/").status_code == 200
    # The same token without the RFC 9068 typ is not an access token.
    api.credentials(HTTP_AUTHORIZATION="Bearer " + signed(claims()))
    assert api.get("/auth/me/").status_code == 401


@pytest.mark.parametrize("make", HOSTILE_TOKENS.values(), ids=HOSTILE_TOKENS.keys())
def test_hostile_bearer_tokens_are_401_at_me(api, forged_access_tokens, make):
    api.credentials(HTTP_AUTHORIZATION="Bearer " + make())
    response = api.get("/auth/me/")
    assert response.status_code == 401, response.content
    assert response.json()["detail"]
