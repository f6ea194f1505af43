"""The OAuth 2.0 endpoints for clients, and the RFC 8414 metadata.

``/auth/oauth/token/`` (RFC 6749, RFC 8693), ``/auth/oauth/introspect/``
(RFC 7662) and ``/auth/oauth/revoke/`` (RFC 7009) take a form and an
authenticated client (``credentials``), and answer JSON with
``Cache-Control: no-store``; a refusal is an RFC 6749 section 5.2 body
``{"error", "error_description"}``, rendered once, here.
"""

import logging
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from gateway_project.identity import metrics
from gateway_project.identity.views import PublicDocumentView, no_store
from gateway_project.oauth import grants, revocation
from gateway_project.oauth.credentials import authenticate_client, read_form
from gateway_project.oauth.errors import OAuthError, invalid_request
from gateway_project.oauth.models import Client

logger = logging.getLogger(__name__)

AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


def oauth_error_response(error: OAuthError) -> JsonResponse:
    """Return the RFC 6749 section 5.2 response of ``error``."""
    response = JsonResponse(
        {"error": error.error, "error_description": error.description},
        status=error.status,
    )
    if error.basic:
        response["WWW-Authenticate"] = 'Basic realm="oauth"'
    if error.retry_after is not None:
        response["Retry-After"] = str(error.retry_after)
    if error.status == 405:
        response["Allow"] = "POST"
    return response


@method_decorator(csrf_exempt, name="dispatch")
class OAuthEndpointView(View):
    """A client-authenticated POST endpoint; subclasses implement ``handle``."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        try:
            form = read_form(request)
            client = authenticate_client(request, form)
            response = JsonResponse(self.handle(client, form))
        except OAuthError as error:
            logger.info(
                "OAuth %s refused: %s (%s)",
                request.path,
                error.error,
                error.description,
            )
            response = oauth_error_response(error)
        return no_store(response)

    def handle(self, client: Client, form: dict[str, str]) -> dict[str, Any]:
        raise NotImplementedError


class TokenView(OAuthEndpointView):
    """``POST /auth/oauth/token/``: ``client_credentials`` and token exchange."""

    grants = {
        grants.CLIENT_CREDENTIALS: grants.client_credentials,
        grants.TOKEN_EXCHANGE: grants.token_exchange,
    }

    def handle(self, client: Client, form: dict[str, str]) -> dict[str, Any]:
        grant_type = form.get("grant_type")
        if not grant_type:
            raise invalid_request("grant_type is required.")
        grant = self.grants.get(grant_type)
        if grant is None:
            raise OAuthError(
                "unsupported_grant_type", "This grant type is not supported."
            )
        answer = grant(client, form)
        metrics.tokens_issued(grant_type)
        return answer


class IntrospectView(OAuthEndpointView):
    """``POST /auth/oauth/introspect/`` (RFC 7662): any authenticated client may ask.

    ``{"active": true, ...claims}`` for a valid access or refresh token of this
    gateway, else ``{"active": false}``.
    """

    def handle(self, client: Client, form: dict[str, str]) -> dict[str, Any]:
        token = form.get("token")
        if not token:
            raise invalid_request("token is required.")
        return revocation.introspect(token)


class RevokeView(OAuthEndpointView):
    """``POST /auth/oauth/revoke/`` (RFC 7009): 200 ``{}``; only a token issued
    to the calling client is revoked (else ``unauthorized_client``)."""

    def handle(self, client: Client, form: dict[str, str]) -> dict[str, Any]:
        token = form.get("token")
        if not token:
            raise invalid_request("token is required.")
        revocation.revoke(client=client, token=token)
        return {}


def authorization_server_metadata() -> dict[str, Any]:
    """Return the RFC 8414 fields of this issuer."""
    issuer = settings.JWT_ISSUER
    return {
        "issuer": issuer,
        "jwks_uri": issuer + reverse("identity:jwks"),
        "token_endpoint": issuer + reverse("oauth:token"),
        "introspection_endpoint": issuer + reverse("oauth:introspect"),
        "revocation_endpoint": issuer + reverse("oauth:revoke"),
        "grant_types_supported": [grants.CLIENT_CREDENTIALS, grants.TOKEN_EXCHANGE],
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "introspection_endpoint_auth_methods_supported": AUTH_METHODS,
        "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
        "scopes_supported": list(settings.OAUTH_SCOPES),
    }


class AuthorizationServerMetadataView(PublicDocumentView):
    """``GET /.well-known/oauth-authorization-server`` (RFC 8414)."""

    def document(self) -> dict[str, Any]:
        return authorization_server_metadata()
