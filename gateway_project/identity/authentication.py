"""The gateway's bearer authentication: shared_auth's, with keys from memory."""

from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import AuthenticationFailed

from gateway_project.identity.keys import key_store
from shared_auth.authentication import JWTAuthentication


class GatewayJWTAuthentication(JWTAuthentication):
    """Verify access tokens exactly as the services do, without fetching the JWKS.

    The public key comes from the gateway's own key store (so a rotation is
    seen at once), and every audience the gateway issues for is accepted.
    """

    def get_public_key(self, kid: str) -> Any:
        """Return the ``PyJWK`` for ``kid``; raise ``AuthenticationFailed`` if none."""
        key = key_store.verifying_jwk(kid)
        if key is None:
            raise AuthenticationFailed(
                _("Token signing key is unknown."), code="token_not_valid"
            )
        return key

    def get_audience(self) -> list[str]:
        """Return the audiences the gateway issues tokens for (``JWT_AUDIENCE``)."""
        return list(settings.JWT_AUDIENCE)
