"""Access tokens of the OAuth endpoints: verifying presented ones, signing new ones.

A presented access token is verified exactly as the gateway's edge verifies a
bearer token (``GatewayJWTAuthentication``: signature with the gateway's own
keys, ``iss``, ``aud``, ``exp``, ``token_type``, subject revocations and
revoked ``jti``s from memory), plus the RFC 9068 header ``typ``. New tokens are
signed by the identity app's backend (the key store's current key, ``kid``,
``typ: at+jwt``).
"""

import re
import time
import uuid
from collections.abc import Mapping
from typing import Any

from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings

from gateway_project.identity.authentication import GatewayJWTAuthentication
from gateway_project.identity.tokens import (
    ACCESS_TOKEN_TYPS,
    RefreshToken,
    token_backend,
)
from shared_auth.conf import auth_settings

# A compact JWS: three base64url parts (RFC 7515 section 7.1).
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


def _now() -> float:
    """Return the issuing time in epoch seconds (a seam for tests)."""
    return time.time()


class InvalidToken(Exception):
    """The presented token is not a valid, unrevoked token of this gateway."""


def _check_shape(raw: str) -> None:
    if len(raw) > auth_settings.MAX_TOKEN_LENGTH or not _COMPACT_JWS.fullmatch(raw):
        raise InvalidToken("Token is invalid.")


def access_token_verify(raw: str, *, check_revocation: bool = True) -> dict[str, Any]:
    """Return the claims of the access token ``raw``; raise ``InvalidToken`` unless
    it is valid, of this issuer, an access token (``typ``) and not revoked."""
    _check_shape(raw)
    authentication = GatewayJWTAuthentication()
    try:
        header = authentication.get_unverified_header(raw)
        if header.get("typ") not in ACCESS_TOKEN_TYPS:
            raise InvalidToken("Token is not an access token.")
        claims = authentication.decode(raw)
        if check_revocation:
            authentication.check_revocation(claims)
    except AuthenticationFailed as exc:
        raise InvalidToken(str(exc.detail)) from exc
    return claims


def has_expired(claims: Mapping[str, Any]) -> bool:
    """Return True if ``claims``' ``exp`` is past by the issuing clock.

    No leeway: a token issued now, never to outlive these claims, would be born
    expired.
    """
    return claims["exp"] <= _now()


def refresh_token_verify(raw: str) -> RefreshToken:
    """Return the refresh token ``raw``; raise ``InvalidToken`` unless valid
    (signature, ``exp``, not blacklisted, subject not revoked)."""
    _check_shape(raw)
    try:
        return RefreshToken(raw)
    except TokenError as exc:
        raise InvalidToken(str(exc)) from exc


def access_token_sign(
    claims: Mapping[str, Any], *, not_after: float | None = None
) -> tuple[str, dict[str, Any]]:
    """Return a new access token holding ``claims`` (with ``aud``), and its payload.

    ``iat`` is now, ``exp`` now plus ``ACCESS_TOKEN_LIFETIME`` but never after
    ``not_after``, ``jti`` new, ``token_type`` ``access`` (read by verifiers
    that predate RFC 9068's ``typ``).
    """
    now = _now()
    exp = int(now) + int(api_settings.ACCESS_TOKEN_LIFETIME.total_seconds())
    if not_after is not None:
        exp = min(exp, int(not_after))
    payload = {
        **claims,
        api_settings.TOKEN_TYPE_CLAIM: "access",
        "iat": now,
        "exp": exp,
        api_settings.JTI_CLAIM: uuid.uuid4().hex,
    }
    return token_backend().encode(payload), payload
