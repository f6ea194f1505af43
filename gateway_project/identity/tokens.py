"""simplejwt's tokens, signed with the key store's current key and a ``kid``.

simplejwt builds its ``TokenBackend`` once, from fixed settings, and never
writes a ``kid``; ``KeyStoreTokenBackend`` instead signs with whatever key is
current in ``keys.key_store`` and verifies with the key the token's ``kid``
names, so a rotation reaches running workers. The token classes below only
point simplejwt at that backend, add the contract's claims, write ``iat`` with
microseconds (a float NumericDate, RFC 7519 section 2) so that a revocation and
a login in the same second are told apart, and refuse tokens of a revoked
subject (``identity.selectors.subject_token_is_revoked``).

Access tokens follow RFC 9068: header ``typ: at+jwt``, claims ``client_id``
(``FIRST_PARTY_CLIENT_ID`` for a login) and ``scope`` (``LOGIN_SCOPE``); the
``token_type: access`` claim stays, for verifiers that read it. Refresh tokens
keep ``typ: JWT``, so no verifier of access tokens takes one for an access token.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

import jwt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.signals import setting_changed
from django.utils.translation import gettext_lazy as _
from rest_framework_simplejwt import tokens
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.exceptions import (
    TokenBackendError,
    TokenBackendExpiredToken,
    TokenError,
)
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken

from gateway_project.identity.keys import key_store
from gateway_project.identity.selectors import subject_token_is_revoked
from shared_auth.user import STAFF_ROLE

# RFC 9068 section 2.1: the media type of an access token, in its header.
ACCESS_TOKEN_TYP = "at+jwt"
ACCESS_TOKEN_TYPS = (ACCESS_TOKEN_TYP, "application/at+jwt")


class KeyStoreTokenBackend(TokenBackend):
    """A ``TokenBackend`` that signs with ``key_store``'s current key and a ``kid``.

    Verification picks the public key by the token's ``kid`` and accepts only
    that key's own algorithm (never ``none`` or ``HS*``).
    """

    def encode(self, payload: dict[str, Any]) -> str:
        """Return ``payload`` with ``iss`` signed by the current key.

        ``aud`` defaults to every audience (``JWT_AUDIENCE``); an access token
        (``token_type: access``) gets the header ``typ: at+jwt``.
        """
        key = key_store.signing_key()
        headers = {"kid": key.kid}
        if payload.get(api_settings.TOKEN_TYPE_CLAIM) == tokens.AccessToken.token_type:
            headers["typ"] = ACCESS_TOKEN_TYP
        return jwt.encode(
            {"aud": self.audience, **payload, "iss": self.issuer},
            key.private_key,
            algorithm=key.alg,
            headers=headers,
            json_encoder=self.json_encoder,
        )

    def decode(self, token: Any, verify: bool = True) -> dict[str, Any]:
        """Return the payload of ``token``; raise ``TokenBackendError`` if invalid."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = key_store.verifying_jwk(kid)
            if key is None:
                raise TokenBackendError(_("Token is invalid"))
            return jwt.decode(
                token,
                key,
                algorithms=[key.algorithm_name],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.get_leeway(),
                options={"verify_signature": verify, "require": ["exp", "iat"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenBackendExpiredToken(_("Token is expired")) from exc
        # RecursionError: a header nested a thousand levels deep.
        except (jwt.PyJWTError, ValueError, TypeError, RecursionError) as exc:
            raise TokenBackendError(_("Token is invalid")) from exc


@cache
def token_backend() -> KeyStoreTokenBackend:
    """Return this process's backend, built from ``SIMPLE_JWT`` on first use."""
    return KeyStoreTokenBackend(
        api_settings.ALGORITHM,
        audience=api_settings.AUDIENCE,
        issuer=api_settings.ISSUER,
        leeway=api_settings.LEEWAY,
        json_encoder=api_settings.JSON_ENCODER,
    )


def _forget_backend(*, setting: str, **kwargs: Any) -> None:
    """Build the backend anew when ``SIMPLE_JWT`` changes (``override_settings``)."""
    if setting == "SIMPLE_JWT":
        token_backend.cache_clear()


setting_changed.connect(_forget_backend)


def user_claims(user: AbstractBaseUser) -> dict[str, Any]:
    """Return the contract's identity claims of ``user``: ``username``, ``roles``.

    ``roles`` are the user's group names, plus ``staff`` for staff users.
    """
    roles = set(user.groups.values_list("name", flat=True))
    if user.is_staff:
        roles.add(STAFF_ROLE)
    return {"username": user.get_username(), "roles": sorted(roles)}


def login_claims(user: AbstractBaseUser) -> dict[str, Any]:
    """Return ``user_claims`` plus the first-party client's RFC 9068 claims."""
    return {
        **user_claims(user),
        "client_id": settings.FIRST_PARTY_CLIENT_ID,
        "scope": settings.LOGIN_SCOPE,
    }


class KeyStoreTokenMixin:
    """Make a simplejwt token class use ``KeyStoreTokenBackend``.

    ``iat`` keeps microseconds, and a decoded token of a revoked subject is
    refused (``TokenError``, 401 at the token endpoints).
    """

    payload: dict[str, Any]
    current_time: datetime

    @property
    def token_backend(self) -> TokenBackend:
        return token_backend()

    def set_iat(self, claim: str = "iat", at_time: datetime | None = None) -> None:
        """Set ``claim`` to ``at_time`` (default: now) in seconds, microseconds kept."""
        self.payload[claim] = (at_time or self.current_time).timestamp()

    def verify(self) -> None:
        """Run simplejwt's checks, then refuse a token issued before a revocation."""
        super().verify()  # type: ignore[misc]
        sub, iat = self.payload.get(api_settings.USER_ID_CLAIM), self.payload.get("iat")
        if not isinstance(sub, str) or not isinstance(iat, int | float):
            return
        if subject_token_is_revoked(sub=sub, iat=iat):
            raise TokenError(_("Token has been revoked."))


class AccessToken(KeyStoreTokenMixin, tokens.AccessToken):
    """An access token carrying the contract's claims."""

    @classmethod
    def for_user(cls, user: AbstractBaseUser) -> AccessToken:
        """Return a new access token for ``user`` with its identity claims."""
        token = super().for_user(user)
        token.payload.update(login_claims(user))
        return token


class RefreshToken(KeyStoreTokenMixin, tokens.RefreshToken):
    """A refresh token (only ``sub``); its access tokens get fresh user claims."""

    access_token_class = AccessToken

    def blacklist(self) -> tuple[BlacklistedToken, bool]:
        """Blacklist this token; raise ``TokenError`` if it already was.

        simplejwt's ``get_or_create`` lets two concurrent refreshes of one token
        both pass; the unique row decides, and only its creator goes on.
        """
        blacklisted, created = super().blacklist()
        if not created:
            raise TokenError(_("Token is blacklisted"))
        return blacklisted, created

    @property
    def access_token(self) -> AccessToken:
        """Return a new access token with the claims of the user as it is now.

        Raise ``TokenError`` if the user no longer exists.
        """
        access = super().access_token
        user_id = self.payload.get(api_settings.USER_ID_CLAIM)
        user = get_user_model().objects.filter(pk=user_id).first()
        if user is None:
            raise TokenError(_("No active account found for the given token."))
        access.payload.update(login_claims(user))
        return access


class UntypedToken(KeyStoreTokenMixin, tokens.UntypedToken):
    """Any token of this gateway, whatever its type (for /auth/token/verify/)."""


def access_token_for(user: AbstractBaseUser) -> str:
    """Return a signed access token for ``user`` with every contract claim."""
    return str(AccessToken.for_user(user))
