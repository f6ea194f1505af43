"""Introspection (RFC 7662) and revocation (RFC 7009) of this gateway's tokens.

Policy (docs/machine-clients.md): any authenticated client may introspect any
token (resource servers need to); a client may revoke only tokens issued to
it, as Keycloak and Spring Authorization Server do: an access token whose
``client_id`` is its id, and, for the first-party client
(``FIRST_PARTY_CLIENT_ID``, if registered), login tokens and refresh tokens.
"""

from typing import Any

from django.conf import settings
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings

from gateway_project.identity.services import access_token_revoke
from gateway_project.oauth.errors import OAuthError
from gateway_project.oauth.models import Client
from gateway_project.oauth.tokens import (
    InvalidToken,
    access_token_verify,
    refresh_token_verify,
)

# Claims an introspection answer shows (RFC 7662 section 2.2 and the contract's).
INTROSPECTED_CLAIMS = (
    *("sub", "client_id", "scope", "aud", "exp", "iat", "iss", "jti"),
    *("username", "roles", "act"),
)

REFRESH_CLAIMS = ("sub", "exp", "iat", "jti")


def introspect(token: str) -> dict[str, Any]:
    """Return ``{"active": true, ...}`` for a valid token, else ``{"active": false}``.

    Expired, revoked, forged, another issuer's, or not a token at all: inactive.
    """
    try:
        claims = access_token_verify(token)
    except InvalidToken:
        pass
    else:
        shown = {name: claims[name] for name in INTROSPECTED_CLAIMS if name in claims}
        return {"active": True, **shown, "token_type": "Bearer"}
    try:
        refresh = refresh_token_verify(token)
    except InvalidToken:
        return {"active": False}
    payload = refresh.payload
    return {
        "active": True,
        **{
            name: payload[name]
            for name in ("sub", "exp", "iat", "jti")
            if name in payload
        },
        "iss": settings.JWT_ISSUER,
        "client_id": settings.FIRST_PARTY_CLIENT_ID,
        "token_type": "refresh_token",
    }


def _check_owner(client: Client, owner: str) -> None:
    if owner != client.client_id:
        raise OAuthError(
            "unauthorized_client", "This token was not issued to this client."
        )


def revoke(*, client: Client, token: str) -> None:
    """Revoke ``token`` if it is a live token of ``client``; nothing otherwise.

    An access token is refused by its ``jti`` from now on (until its ``exp``);
    a refresh token is blacklisted. An unknown, invalid or expired token is no
    error (RFC 7009 section 2.2). Raise ``unauthorized_client`` for a valid
    token issued to another client.
    """
    try:
        claims = access_token_verify(token, check_revocation=False)
    except InvalidToken:
        pass
    else:
        _check_owner(client, str(claims.get("client_id", "")))
        jti = claims.get(api_settings.JTI_CLAIM)
        if isinstance(jti, str) and jti:
            access_token_revoke(jti=jti, exp=claims["exp"], client_id=client.client_id)
        return
    try:
        refresh = refresh_token_verify(token)
    except InvalidToken:
        return
    _check_owner(client, settings.FIRST_PARTY_CLIENT_ID)
    try:
        refresh.blacklist()
    except TokenError:  # blacklisted meanwhile
        pass
