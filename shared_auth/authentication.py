"""Stateless verification of the gateway's bearer access tokens (DRF).

``JWTAuthentication`` checks the signature through the gateway's JWKS and
every claim the contract names, with no database query and no network call
per request once the keys are cached. Each step is a method a subclass can
override; the gateway overrides ``get_public_key`` to use its own keys.
"""

import binascii
import json
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt
from django.core.signals import setting_changed
from django.utils.translation import gettext_lazy as _
from jwt.utils import base64url_decode
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from shared_auth import metrics
from shared_auth.conf import as_seconds, auth_settings
from shared_auth.context import username_var
from shared_auth.exceptions import ServiceUnavailable
from shared_auth.jwks import KeysUnavailable, UnknownKey, get_jwks_client
from shared_auth.revocation import RevocationsUnavailable, get_revocation_client
from shared_auth.user import TokenUser

logger = logging.getLogger(__name__)

# A compact JWS: three base64url parts (RFC 7515 section 7.1).
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
MAX_KID_LENGTH = 256
# Header parameters whose meaning this verifier does not implement: refuse.
_REFUSED_HEADER_PARAMS = ("crit", "b64")
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub"]
BEARER = "Bearer"


def bearer_credential(request: Any, keyword: str = BEARER) -> str | None:
    """Return the credential of ``request``'s ``Authorization: Bearer <credential>``.

    ``request`` is a request or its WSGI environ (``request.META``). Return
    ``None`` without the header (or without a request) or with another
    scheme (compared case-insensitively, RFC 9110 section 11.1), and ``""``
    for a malformed bearer credential: none, or more than one part.
    """
    meta: Mapping[str, str] = (
        request if isinstance(request, Mapping) else getattr(request, "META", {})
    )
    parts = meta.get("HTTP_AUTHORIZATION", "").split()
    if not parts or parts[0].lower() != keyword.lower():
        return None
    return parts[1] if len(parts) == 2 else ""


# Request attribute where a failure's description waits for authenticate_header.
_ERROR_ATTR = "_shared_auth_error"
# Tokens this process verified: raw token -> (authentication class, audience,
# kid, key object, claims). Bounded (emptied when full: a few MB at most) and
# only valid tokens get in.
MAX_VERIFIED_TOKENS = 4096
_verified: dict[str, tuple[type, Any, str, Any, dict[str, Any]]] = {}


def _now() -> float:
    """Return the time to check a remembered token's expiry against (tests swap it)."""
    return time.time()


@dataclass(frozen=True)
class VerifiedToken(Mapping[str, Any]):
    """``request.auth``: the verified token, its claims readable like a dict.

    ``raw`` is the encoded token (kept out of ``repr`` so it is never logged),
    ``claims`` the validated payload; ``token["jti"]`` reads a claim.
    """

    raw: str = field(repr=False)
    claims: Mapping[str, Any]

    def __getitem__(self, name: str) -> Any:
        return self.claims[name]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.claims)

    def __len__(self) -> int:
        return len(self.claims)


class JWTAuthentication(BaseAuthentication):
    """Authenticate ``Authorization: Bearer <access token>`` (scheme case-insensitive).

    ``authenticate()`` returns ``None`` when there is no bearer credential
    (tokens in the query string or cookies are ignored), ``(TokenUser,
    VerifiedToken)`` for a valid access token, and raises
    ``AuthenticationFailed`` (401 with ``WWW-Authenticate: Bearer ...
    error="invalid_token"``) for anything else (a revoked token included), or
    ``ServiceUnavailable`` (503) when no signing key could ever be fetched (or,
    failing closed, the revocation list is too old).

    Steps, in order: ``get_raw_token`` -> ``decode`` (``get_unverified_header``,
    ``check_header``, ``get_public_key``, ``get_audience``, ``validate_claims``)
    -> ``check_revocation`` (the gateway's revocation feed) -> ``get_user``.
    """

    keyword = "Bearer"
    www_authenticate_realm = "api"
    user_class = TokenUser

    def authenticate(self, request: Request) -> tuple[TokenUser, VerifiedToken] | None:
        """Return ``(user, token)`` for a valid bearer token, ``None`` without one."""
        try:
            raw_token = self.get_raw_token(request)
            if raw_token is None:
                return None
            claims = self.decode(raw_token)
            self.check_revocation(claims)
            user = self.get_user(claims)
        except AuthenticationFailed as exc:
            setattr(request, _ERROR_ATTR, str(exc.detail))
            logger.info("Bearer token refused: %s", exc.detail)
            metrics.record_rejection(metrics.rejection_reason(exc))
            raise
        username_var.set(user.username or user.id)
        return user, VerifiedToken(raw=raw_token, claims=claims)

    def authenticate_header(self, request: Request) -> str:
        """Return the ``WWW-Authenticate`` value of a 401 (RFC 6750 section 3)."""
        value = f'{self.keyword} realm="{self.www_authenticate_realm}"'
        error = getattr(request, _ERROR_ATTR, None)
        if error:
            value += f', error="invalid_token", error_description="{error}"'
        return value

    def get_raw_token(self, request: Request) -> str | None:
        """Return the bearer token of the ``Authorization`` header, if any.

        Return ``None`` without the header or with another scheme; raise
        ``AuthenticationFailed`` for a malformed bearer credential (no token,
        more than one part, several headers joined by commas, too long).
        """
        token = bearer_credential(request, self.keyword)
        if token is None:
            return None
        if not token:
            raise AuthenticationFailed(
                _("Invalid Authorization header: expected one bearer token."),
                code="bad_authorization_header",
            )
        if len(token) > auth_settings.MAX_TOKEN_LENGTH or not _COMPACT_JWS.fullmatch(
            token
        ):
            raise AuthenticationFailed(_("Token is invalid."), code="token_not_valid")
        return token

    def decode(self, raw_token: str) -> dict[str, Any]:
        """Return the claims of ``raw_token`` once signature and claims are valid.

        Checks: the header (allowed ``alg``, a sane string ``kid``, no ``crit``,
        ``typ`` of an access token),
        the signature with ``get_public_key(kid)``, ``iss``, ``aud`` against
        ``get_audience()``, ``exp``/``nbf``/``iat`` with ``LEEWAY``, required
        claims, and ``validate_claims`` (token type). ``jku``, ``x5u``, ``jwk``
        and ``x5c`` headers are ignored: keys only ever come from
        ``get_public_key``.

        A token this process verified before, by the same class for the same
        audience, is not decoded again while ``get_public_key`` returns the same
        key object for its ``kid`` (the JWKS client makes new ones whenever it
        fetches or adopts the key set): only its expiry is checked again, with
        ``LEEWAY``. Its signature, header and claims cannot have changed, and
        ``nbf``/``iat`` only get older; a settings change forgets them all. The
        revocation check (``check_revocation``) runs for every request.
        """
        claims = self._remembered(raw_token)
        if claims is not None:
            return claims
        header = self.get_unverified_header(raw_token)
        self.check_header(header)
        key = self.get_public_key(header["kid"])
        try:
            claims = jwt.decode(
                raw_token,
                key,
                algorithms=list(auth_settings.ALGORITHMS),
                audience=self.get_audience(),
                issuer=auth_settings.ISSUER,
                leeway=auth_settings.LEEWAY,
                options={"require": REQUIRED_CLAIMS, "strict_aud": False},
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthenticationFailed(
                _("Token has expired."), code="token_expired"
            ) from exc
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise AuthenticationFailed(
                _("Token is invalid."), code="token_not_valid"
            ) from exc
        self.validate_claims(claims)
        if len(_verified) >= MAX_VERIFIED_TOKENS:
            _verified.clear()
        _verified[raw_token] = (
            type(self),
            self.get_audience(),
            header["kid"],
            key,
            dict(claims),
        )
        return claims

    def _remembered(self, raw_token: str) -> dict[str, Any] | None:
        """Return the claims of ``raw_token`` if this process verified it (this
        class, this audience) with the key ``get_public_key`` still returns;
        None if it must be decoded.

        Raise ``AuthenticationFailed`` if it has expired since (or its key is
        no longer known).
        """
        cached = _verified.get(raw_token)
        if cached is None:
            return None
        cls, audience, kid, key, claims = cached
        if cls is not type(self) or audience != self.get_audience():
            return None
        if self.get_public_key(kid) is not key:
            return None
        if claims["exp"] <= _now() - as_seconds(auth_settings.LEEWAY):
            raise AuthenticationFailed(_("Token has expired."), code="token_expired")
        return dict(claims)

    def get_unverified_header(self, raw_token: str) -> dict[str, Any]:
        """Return the token's header; raise ``AuthenticationFailed`` if unreadable.

        Only the first segment is decoded (the alphabet was checked by
        ``get_raw_token``): ``jwt.get_unverified_header`` would decode and
        re-check the whole token a second time, a third of the hot path.
        ``jwt.decode`` validates the header again anyway.
        """
        try:
            header = json.loads(base64url_decode(raw_token.split(".", 1)[0]))
        # RecursionError: a header nested a thousand levels deep.
        except (ValueError, TypeError, binascii.Error, RecursionError) as exc:
            raise AuthenticationFailed(
                _("Token is invalid."), code="token_not_valid"
            ) from exc
        if not isinstance(header, dict):
            raise AuthenticationFailed(_("Token is invalid."), code="token_not_valid")
        return header

    def check_header(self, header: Mapping[str, Any]) -> None:
        """Refuse a header with a disallowed ``alg``, a bad ``kid`` or ``crit``."""
        alg, kid = header.get("alg"), header.get("kid")
        if not isinstance(alg, str) or alg not in auth_settings.ALGORITHMS:
            raise AuthenticationFailed(
                _("Token algorithm is not allowed."), code="token_not_valid"
            )
        if not isinstance(kid, str) or not 0 < len(kid) <= MAX_KID_LENGTH:
            raise AuthenticationFailed(
                _("Token key id is invalid."), code="token_not_valid"
            )
        if any(param in header for param in _REFUSED_HEADER_PARAMS):
            raise AuthenticationFailed(
                _("Token header is not supported."), code="token_not_valid"
            )
        self.check_type(header.get("typ"))

    def check_type(self, typ: Any) -> None:
        """Refuse a token whose header ``typ`` is not an access token's.

        RFC 9068 section 4: ``at+jwt`` or ``application/at+jwt``, compared
        case-insensitively (media types are, RFC 7515 section 4.1.9). This
        keeps ID tokens, refresh tokens and other JWTs signed by the same keys
        from being used as access tokens (RFC 8725 section 3.11).
        """
        accepted = {value.lower() for value in auth_settings.ACCESS_TOKEN_TYPES}
        if not isinstance(typ, str) or typ.lower() not in accepted:
            raise AuthenticationFailed(
                _("Token is not an access token."), code="token_not_valid"
            )

    def get_public_key(self, kid: str) -> Any:
        """Return the verification key for ``kid`` (a ``PyJWK``) from the JWKS.

        Raise ``AuthenticationFailed`` for an unknown kid and
        ``ServiceUnavailable`` (503) if the key set could never be fetched.
        Override to verify with keys held in memory (the gateway does).
        """
        try:
            return get_jwks_client().get_signing_key(kid)
        except UnknownKey as exc:
            raise AuthenticationFailed(
                _("Token signing key is unknown."), code="token_not_valid"
            ) from exc
        except KeysUnavailable as exc:
            raise ServiceUnavailable(
                "jwks",
                detail=_("The token signing keys are unavailable; try again later."),
            ) from exc

    def get_audience(self) -> str | list[str]:
        """Return the audience this service accepts (``SHARED_AUTH['AUDIENCE']``)."""
        return auth_settings.AUDIENCE

    def validate_claims(self, claims: Mapping[str, Any]) -> None:
        """Refuse a token that is not an access token or has no usable ``sub``.

        The header ``typ`` says "access token" already (``check_type``); a
        ``token_type`` claim, when present (simplejwt's), must agree.
        """
        token_type = claims.get(auth_settings.TOKEN_TYPE_CLAIM)
        if token_type is not None and token_type != auth_settings.ACCESS_TOKEN_TYPE:
            raise AuthenticationFailed(
                _("Token is not an access token."), code="token_not_valid"
            )
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub:
            raise AuthenticationFailed(
                _("Token subject is invalid."), code="token_not_valid"
            )

    def check_revocation(self, claims: Mapping[str, Any]) -> None:
        """Refuse a token issued at or before its subject's revocation, or
        revoked by itself (its ``jti``, RFC 7009).

        The revocations come from the gateway's feed, held in memory
        (``shared_auth.revocation``): no query and, but once per
        ``REVOCATION_INTERVAL``, no network call. Raise ``ServiceUnavailable``
        (503) if failing closed with a list too old. The gateway overrides this
        to read its own database.
        """
        client = get_revocation_client()
        try:
            not_before = client.not_before(claims["sub"])
        except RevocationsUnavailable as exc:
            raise ServiceUnavailable(
                "revocations",
                detail=_("The token revocation list is unavailable; try again later."),
            ) from exc
        revoked = not_before is not None and claims["iat"] <= not_before
        if revoked or client.is_token_revoked(claims.get("jti")):
            raise AuthenticationFailed(
                _("Token has been revoked."), code="token_revoked"
            )

    def get_user(self, claims: Mapping[str, Any]) -> TokenUser:
        """Return the stateless principal for verified ``claims``."""
        return self.user_class(claims)


def _forget_verified(**kwargs: Any) -> None:
    """Forget the verified tokens when a setting changes (issuer, audience...)."""
    _verified.clear()


setting_changed.connect(_forget_verified)
