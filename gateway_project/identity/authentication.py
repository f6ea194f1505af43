"""The gateway's bearer authentication, and the revocation feed's credential.

``GatewayJWTAuthentication`` is shared_auth's, with keys and revocations from
memory; ``RevocationFeedAuthentication`` lets only
the services (holding ``REVOCATION_FEED_TOKEN``) read ``/auth/revocations/``.
"""

import hmac
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from gateway_project.identity.keys import key_store
from gateway_project.identity.revocation_memo import memo
from shared_auth.authentication import JWTAuthentication, bearer_credential
from shared_auth.jwks import UnknownKey


class GatewayJWTAuthentication(JWTAuthentication):
    """Verify access tokens exactly as the services do, without fetching the JWKS.

    The public key comes from the gateway's own key store (so a rotation is
    seen at once), every audience the gateway issues for is accepted, and a
    revocation is seen at once, from memory kept current by a shared revision
    (``identity.revocation_memo``): no query per request. A token already verified
    by this process is not decoded again while its key is unchanged (the key
    store reloads every key on any change of the keys directory): only its
    expiry is checked, and its revocation as for every token
    (``JWTAuthentication.decode``).
    """

    def get_public_key(self, kid: str) -> Any:
        """Return the ``PyJWK`` for ``kid``; raise ``AuthenticationFailed`` if none."""
        key = key_store.verifying_jwk(kid)
        if key is None:
            raise AuthenticationFailed(
                _("Token signing key is unknown."), code="token_not_valid"
            ) from UnknownKey(kid)
        return key

    def get_audience(self) -> list[str]:
        """Return the audiences the gateway issues tokens for (``JWT_AUDIENCE``)."""
        return list(settings.JWT_AUDIENCE)

    def check_revocation(self, claims: Mapping[str, Any]) -> None:
        """Refuse a token of a revoked subject, or one revoked by its ``jti``."""
        jti = claims.get("jti")
        jti = jti if isinstance(jti, str) else None
        if memo.is_revoked(sub=claims["sub"], iat=claims["iat"], jti=jti):
            raise AuthenticationFailed(
                _("Token has been revoked."), code="token_revoked"
            )


class FeedClient:
    """The caller of the revocation feed: a service holding the feed credential."""

    is_authenticated = True
    username = "revocation-feed"

    def __str__(self) -> str:
        return self.username


class RevocationFeedAuthentication(BaseAuthentication):
    """``Authorization: Bearer <REVOCATION_FEED_TOKEN>``, for the services only.

    Return ``None`` without a bearer credential (401 from the permission),
    ``(FeedClient(), None)`` for the right one, and raise ``AuthenticationFailed``
    for any other (compared in constant time; an empty setting matches nothing).
    """

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[FeedClient, None] | None:
        given = bearer_credential(request, self.keyword)
        if given is None:
            return None
        expected = settings.REVOCATION_FEED_TOKEN.encode()
        if not expected or not hmac.compare_digest(given.encode(), expected):
            raise AuthenticationFailed(
                _("Invalid revocation feed credential."), code="authentication_failed"
            )
        return FeedClient(), None

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="revocations"'
