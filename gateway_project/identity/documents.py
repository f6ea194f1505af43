"""The public documents: the JWKS and the OpenID/RFC 8414 metadata."""

from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils.cache import patch_cache_control
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from gateway_project.identity import keys


class PublicDocumentView(APIView):
    """A public JSON document, cacheable for ``JWKS_MAX_AGE`` seconds."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]

    def document(self) -> dict[str, Any]:
        raise NotImplementedError

    def get(self, request: Request) -> Response:
        response = Response(self.document())
        patch_cache_control(response, public=True, max_age=settings.JWKS_MAX_AGE)
        return response


class JWKSView(PublicDocumentView):
    """``GET /.well-known/jwks.json``: every public key still needed."""

    def document(self) -> dict[str, Any]:
        return keys.jwks()


class OpenIDConfigurationView(PublicDocumentView):
    """``GET /.well-known/openid-configuration``: the RFC 8414 metadata
    (``oauth.views.authorization_server_metadata``) plus OpenID Discovery's."""

    def document(self) -> dict[str, Any]:
        from gateway_project.oauth.views import authorization_server_metadata

        issuer = settings.JWT_ISSUER
        return {
            **authorization_server_metadata(),
            "userinfo_endpoint": issuer + reverse("identity:me"),
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": list(keys.SUPPORTED_ALGORITHMS),
            "claims_supported": [
                *("iss", "aud", "sub", "exp", "iat", "jti"),
                *("client_id", "scope", "act", "username", "roles", "token_type"),
            ],
        }
