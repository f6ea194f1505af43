"""Helpers of the OAuth tests: form posts, Basic credentials, token decoding."""

import base64
from typing import Any
from urllib.parse import quote_plus

import jwt

from gateway_project.identity.keys import key_store

TOKEN_URL = "/auth/oauth/token/"
INTROSPECT_URL = "/auth/oauth/introspect/"
REVOKE_URL = "/auth/oauth/revoke/"
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TYPE = "urn:ietf:params:oauth:token-type:access_token"


def basic(client_id: str, secret: str) -> dict[str, str]:
    """Return the HTTP Basic header of RFC 6749 section 2.3.1 (form-encoded parts)."""
    pair = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(pair).decode()}


def post_form(api, url: str, data: dict[str, Any], **extra):
    """POST ``data`` form-encoded (what OAuth clients send)."""
    from urllib.parse import urlencode

    return api.generic(
        "POST",
        url,
        urlencode(data, doseq=True),
        content_type="application/x-www-form-urlencoded",
        **extra,
    )


def decode(token: str, audience: str | list[str] = "orders") -> dict[str, Any]:
    """Return the verified claims of a gateway token (``aud`` holding ``audience``)."""
    kid = jwt.get_unverified_header(token)["kid"]
    key = key_store.verifying_jwk(kid)
    return jwt.decode(
        token, key, algorithms=[key.algorithm_name], audience=audience, issuer=None
    )


def header(token: str) -> dict[str, Any]:
    return jwt.get_unverified_header(token)


def assert_error(response, status: int, error: str) -> dict[str, Any]:
    """Assert an RFC 6749 section 5.2 error answer; return its body."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error", "error_description"}, body
    assert body["error"] == error, body
    assert "no-store" in response["Cache-Control"]
    return body
