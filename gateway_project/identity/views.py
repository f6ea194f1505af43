"""Login, tokens, the caller's identity and the published keys (see the contract).

The token views are simplejwt's, with: a small body limit (413), login
throttling (failed logins only), and logout answering 204.
"""

import functools
import logging
import math
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils.cache import patch_cache_control
from rest_framework import status
from rest_framework.exceptions import APIException, AuthenticationFailed, Throttled
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView
from rest_framework_simplejwt import views as simplejwt_views

from gateway_project.identity import keys
from gateway_project.identity.authentication import GatewayJWTAuthentication
from gateway_project.identity.throttling import LOGIN_THROTTLES

logger = logging.getLogger(__name__)

MAX_BODY_SIZE = 16 * 1024


class PayloadTooLarge(APIException):
    """413: the request body is larger than ``MAX_BODY_SIZE``."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large."
    default_code = "payload_too_large"


class BodyLimitMixin:
    """Refuse bodies over ``MAX_BODY_SIZE`` with 413 before parsing them."""

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > MAX_BODY_SIZE:
            raise PayloadTooLarge()
        super().initial(request, *args, **kwargs)


class LoginView(BodyLimitMixin, simplejwt_views.TokenObtainPairView):
    """``POST /auth/token/``: 200 ``{access, refresh}``, 401, or 429 when throttled."""

    throttle_classes = LOGIN_THROTTLES

    def get_throttles(self) -> list[BaseThrottle]:
        self.login_throttles = super().get_throttles()
        return self.login_throttles

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        try:
            return super().post(request, *args, **kwargs)
        except AuthenticationFailed:
            for throttle in self.login_throttles:
                throttle.record_failure()
            raise


class RefreshView(BodyLimitMixin, simplejwt_views.TokenRefreshView):
    """``POST /auth/token/refresh/``: new pair; the old refresh token is blacklisted."""


class VerifyView(BodyLimitMixin, simplejwt_views.TokenVerifyView):
    """``POST /auth/token/verify/``: 200 ``{}`` if the token is valid, else 401."""


class LogoutView(BodyLimitMixin, simplejwt_views.TokenBlacklistView):
    """``POST /auth/logout/ {refresh}``: blacklist that refresh token; 204.

    The "log out everywhere" variant (``{"all": true}`` with a bearer token)
    belongs here too, dispatched on the body before the serializer runs.
    """

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        super().post(request, *args, **kwargs)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    """``GET /auth/me/``: the caller's claims, as the services see them."""

    authentication_classes = [GatewayJWTAuthentication]
    permission_classes = [IsAuthenticated]

    def get(self, request: Request) -> Response:
        return Response(dict(request.auth))


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
    """``GET /.well-known/openid-configuration``: where the issuer's keys are."""

    def document(self) -> dict[str, Any]:
        issuer = settings.JWT_ISSUER
        return {
            "issuer": issuer,
            "jwks_uri": issuer + reverse("identity:jwks"),
            "token_endpoint": issuer + reverse("identity:token_obtain_pair"),
            "userinfo_endpoint": issuer + reverse("identity:me"),
            "grant_types_supported": ["password", "refresh_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": list(keys.SUPPORTED_ALGORITHMS),
            "claims_supported": [
                *("iss", "aud", "sub", "exp", "iat", "jti"),
                *("username", "roles", "token_type"),
            ],
        }


def throttle_failed_logins(login_view: Callable[..., HttpResponse]) -> Callable:
    """Wrap a Django login form view with the API's failed-login throttling.

    A POST answered 200 (the form again, with an error) counts as a failure; a
    throttled POST gets 429 JSON with ``Retry-After`` before the form runs.
    """

    @functools.wraps(login_view)
    def view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        throttles = [throttle_class() for throttle_class in LOGIN_THROTTLES]
        if request.method == "POST":
            waits = [
                t.wait() or 0 for t in throttles if not t.allow_request(request, None)
            ]
            if waits:
                wait = math.ceil(max(waits))
                return JsonResponse(
                    {"detail": str(Throttled(wait).detail), "code": "throttled"},
                    status=status.HTTP_429_TOO_MANY_REQUESTS,
                    headers={"Retry-After": str(wait)},
                )
        response = login_view(request, *args, **kwargs)
        if request.method == "POST" and response.status_code == status.HTTP_200_OK:
            logger.info("Failed login at %s", request.path)
            for throttle in throttles:
                throttle.record_failure()
        return response

    return view


admin_login = throttle_failed_logins(admin.site.login)
api_auth_login = throttle_failed_logins(
    auth_views.LoginView.as_view(template_name="rest_framework/login.html")
)
