"""Principals, claims and tokens for the tests, built in one place.

- ``token_user``, ``delegated``, ``machine``: the ``TokenUser`` a verified login,
  exchanged or client-credentials token gives a service (its tests
  force-authenticate with them).
- ``claims``: an access token's claims, valid unless told otherwise;
  ``gateway_claims`` the same as the gateway under test issues them.
- ``signed``: claims signed with a test key; ``gateway_signed`` with the gateway's
  own signing key (the gateway suite only).
- ``forge``: a compact JWS from any header, payload and signature (hostile tokens).

Importing it needs no Django settings (the e2e suite has none); the functions
that need Django import it when called.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import jwt

if TYPE_CHECKING:  # importing it needs Django's settings; the e2e suite has none
    from shared_auth.user import TokenUser

ISSUER = "https://issuer.test"
KID = "key-1"
LOGIN_SCOPE = "orders:read orders:write customers:read customers:write"
# What the orders service exchanges a caller's token for, to call customers.
DELEGATED_SCOPE = "customers:read reservations:write"


# -- principals ------------------------------------------------------------------
def token_user(
    sub: str, username: str, *roles: str, scope: str = LOGIN_SCOPE, **claims: Any
) -> TokenUser:
    """Return the principal a verified login token for ``username`` would give."""
    from shared_auth.user import TokenUser

    return TokenUser(
        {
            "sub": sub,
            "username": username,
            "roles": list(roles),
            "client_id": "gateway",
            "scope": scope,
            **claims,
        }
    )


def delegated(user: TokenUser, actor: str = "orders") -> TokenUser:
    """Return the principal of ``user``'s token exchanged by ``actor``."""
    from shared_auth.user import TokenUser

    return TokenUser(
        {
            **user.token,
            "client_id": actor,
            "scope": DELEGATED_SCOPE,
            "act": {"sub": actor},
        }
    )


def machine(client_id: str, scope: str = DELEGATED_SCOPE) -> TokenUser:
    """Return the principal of ``client_id``'s own (client credentials) token."""
    from shared_auth.user import TokenUser

    return TokenUser({"sub": client_id, "client_id": client_id, "scope": scope})


# -- claims ----------------------------------------------------------------------
def claims(**overrides: Any) -> dict[str, Any]:
    """Return valid access-token claims, with ``overrides`` (None removes one).

    alice's login token (sub 42, role clerk) from ``ISSUER``, for orders and
    customers, valid for five minutes from now.
    """
    now = int(time.time())
    values = {
        "iss": ISSUER,
        "aud": ["orders", "customers"],
        "sub": "42",
        "exp": now + 300,
        "iat": now,
        "jti": uuid.uuid4().hex,
        "token_type": "access",
        "client_id": "gateway",
        "scope": LOGIN_SCOPE,
        "username": "alice",
        "roles": ["clerk"],
        **overrides,
    }
    return {name: value for name, value in values.items() if value is not None}


def gateway_claims(**overrides: Any) -> dict[str, Any]:
    """Return ``claims`` with the issuer and audience of the gateway's
    settings (``JWT_ISSUER``, ``JWT_AUDIENCE``), then ``overrides``."""
    from django.conf import settings

    return claims(
        **{"iss": settings.JWT_ISSUER, "aud": settings.JWT_AUDIENCE, **overrides}
    )


# -- tokens ----------------------------------------------------------------------
def signed(
    claims: dict[str, Any], key: Any, *, algorithm: str = "RS256", **headers: Any
) -> str:
    """Return ``claims`` signed with ``key``.

    The header carries ``kid`` (``KID``) and ``typ: at+jwt`` (RFC 9068);
    ``headers`` add to or override them, and a false value removes one (PyJWT
    then writes its own ``typ: JWT``).
    """
    header = {"kid": KID, "typ": "at+jwt", **headers}
    return jwt.encode(
        claims,
        key,
        algorithm=algorithm,
        headers={name: value for name, value in header.items() if value},
    )


def gateway_signed(claims: dict[str, Any], *, key: Any = None, **headers: Any) -> str:
    """Return ``claims`` signed as ``signed`` does, under the gateway's current
    signing key's ``kid`` and with that key (or with ``key``, a forgery)."""
    from gateway_project.identity.keys import key_store

    signing = key_store.signing_key()
    return signed(
        claims,
        signing.private_key if key is None else key,
        algorithm=signing.alg,
        **{"kid": signing.kid, **headers},
    )


def b64url(data: bytes) -> str:
    """Return ``data`` in unpadded base64url (RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(
    header: dict[str, Any],
    payload: dict[str, Any],
    signature: bytes | Callable[[bytes], bytes],
) -> str:
    """Return the compact JWS of ``header`` and ``payload``, whatever they hold.

    ``signature`` is the signature's bytes, or a function of the signing input
    returning them.
    """
    head = (
        f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}"
    )
    if callable(signature):
        signature = signature(head.encode())
    return f"{head}.{b64url(signature)}"
