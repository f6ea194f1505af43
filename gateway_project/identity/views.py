"""Login, tokens, the caller's identity and the published keys (see the contract).

The token views are simplejwt's, with: a small body limit (413), login
throttling (failed logins only), logout answering 204 (and logging out
everywhere with ``{"all": true}``), plus the services' revocation feed.
"""

import functools
import logging
import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from rest_framework import status
from rest_framework.exceptions import (
    APIException,
    AuthenticationFailed,
    NotAuthenticated,
    ParseError,
    Throttled,
)
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView
from rest_framework_simplejwt import views as simplejwt_views

from gateway_project.identity import keys, metrics
from gateway_project.identity.authentication import (
    GatewayJWTAuthentication,
    RevocationFeedAuthentication,
)
from gateway_project.identity.selectors import (
    revocation_window,
    subject_revocations_since,
    token_revocations_since,
)
from gateway_project.identity.services import subject_tokens_revoke
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


def no_store(response: HttpResponse) -> HttpResponse:
    """Mark ``response`` as never to be cached (RFC 6749 section 5.1); return it."""
    patch_cache_control(response, no_store=True)
    response["Pragma"] = "no-cache"
    return response


class NoStoreMixin:
    """Every answer of the view carries ``Cache-Control: no-store``: it holds a
    token or the claims of one."""

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        return no_store(response)


class LoginView(NoStoreMixin, BodyLimitMixin, simplejwt_views.TokenObtainPairView):
    """``POST /auth/token/``: 200 ``{access, refresh}``, 401, or 429 when throttled."""

    throttle_classes = LOGIN_THROTTLES

    def get_throttles(self) -> list[BaseThrottle]:
        self.login_throttles = super().get_throttles()
        return self.login_throttles

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        try:
            response = super().post(request, *args, **kwargs)
        except AuthenticationFailed:
            metrics.login_failed("token")
            for throttle in self.login_throttles:
                throttle.record_failure()
            raise
        if response.status_code == status.HTTP_200_OK:
            metrics.tokens_issued("password")
        return response

    def throttled(self, request: Request, wait: float | None) -> None:
        """Count the throttled login, then refuse it (429)."""
        metrics.login_throttled("token")
        super().throttled(request, wait)


class RefreshView(NoStoreMixin, BodyLimitMixin, simplejwt_views.TokenRefreshView):
    """``POST /auth/token/refresh/``: new pair; the old refresh token is blacklisted."""

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().post(request, *args, **kwargs)
        if response.status_code == status.HTTP_200_OK:
            metrics.tokens_issued("refresh_token")
        return response


class VerifyView(BodyLimitMixin, simplejwt_views.TokenVerifyView):
    """``POST /auth/token/verify/``: 200 ``{}`` if the token is valid, else 401."""


class LogoutView(BodyLimitMixin, simplejwt_views.TokenBlacklistView):
    """``POST /auth/logout/ {refresh}``: blacklist that refresh token; 204.

    ``{"all": true}`` with a bearer access token logs the caller out
    everywhere: every token issued to them up to now is refused (204), or 401
    without a valid bearer token.
    """

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = request.data
        if isinstance(data, Mapping) and data.get("all") is True:
            return self.logout_everywhere(request)
        super().post(request, *args, **kwargs)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def logout_everywhere(self, request: Request) -> Response:
        """Revoke every token of the bearer token's subject; 204."""
        result = GatewayJWTAuthentication().authenticate(request)
        if result is None:
            raise NotAuthenticated()
        subject_tokens_revoke(sub=result[1]["sub"])
        return Response(status=status.HTTP_204_NO_CONTENT)

    def get_authenticate_header(self, request: Request) -> str:
        """Return the bearer challenge, so that a refused logout is 401, not 403."""
        return GatewayJWTAuthentication().authenticate_header(request)


class MeView(NoStoreMixin, APIView):
    """``GET /auth/me/``: the caller's claims, as the services see them."""

    authentication_classes = [GatewayJWTAuthentication]
    permission_classes = [IsAuthenticated]

    def get(self, request: Request) -> Response:
        return Response(dict(request.auth))


# Revocations written this long before ``since`` are sent again, so one whose
# transaction committed after an earlier answer was computed is never missed.
FEED_OVERLAP = timedelta(seconds=10)


class RevocationFeedView(APIView):
    """``GET /auth/revocations/?since=<epoch seconds>``: for the services only.

    200 ``{"time", "window", "revocations": [{"sub", "not_before"}, ...],
    "tokens": [{"jti", "exp"}, ...]}``: the subjects revoked after ``since``
    (minus ``FEED_OVERLAP``) whose revocation still matters (``not_before``
    within ``window`` seconds of ``time``), and the access tokens revoked one by
    one (RFC 7009) after ``since`` (same overlap) that have not expired, oldest
    first; times are epoch seconds with microseconds. Pass ``time`` as the next
    ``since``. 401 without the feed credential, 400 for a bad ``since``.
    """

    authentication_classes = [RevocationFeedAuthentication]
    permission_classes = [IsAuthenticated]
    renderer_classes = [JSONRenderer]

    def get(self, request: Request) -> Response:
        now = timezone.now()
        since = parse_since(request.query_params.get("since"), now=now)
        entries = subject_revocations_since(since=since - FEED_OVERLAP, now=now)
        revoked = token_revocations_since(since=since - FEED_OVERLAP, now=now)
        response = Response(
            {
                "time": now.timestamp(),
                "window": revocation_window().total_seconds(),
                "revocations": [
                    {"sub": sub, "not_before": not_before.timestamp()}
                    for sub, not_before in entries
                ],
                "tokens": [
                    {"jti": jti, "exp": exp.timestamp()} for jti, exp in revoked
                ],
            }
        )
        patch_cache_control(response, private=True, no_store=True)
        return response


def parse_since(value: str | None, *, now: datetime) -> datetime:
    """Return the ``since`` parameter as a datetime (the epoch if absent).

    Raise ``ParseError`` (400) unless it is a finite, non-negative number.
    """
    if value is None or value == "":
        return datetime.fromtimestamp(0, UTC)
    try:
        seconds = float(value)
    except ValueError as exc:
        raise ParseError("since must be a time in seconds since the epoch.") from exc
    if not math.isfinite(seconds) or seconds < 0:
        raise ParseError("since must be a time in seconds since the epoch.")
    return datetime.fromtimestamp(min(seconds, now.timestamp()), UTC)


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


def throttle_failed_logins(
    login_view: Callable[..., HttpResponse], endpoint: str
) -> Callable:
    """Wrap a Django login form view with the API's failed-login throttling.

    A POST answered 200 (the form again, with an error) counts as a failure; a
    throttled POST gets 429 JSON with ``Retry-After`` before the form runs.
    ``endpoint`` labels the login metrics (``admin``, ``api_auth``).
    """

    @functools.wraps(login_view)
    def view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        throttles = [throttle_class() for throttle_class in LOGIN_THROTTLES]
        if request.method == "POST":
            waits = [
                t.wait() or 0 for t in throttles if not t.allow_request(request, None)
            ]
            if waits:
                metrics.login_throttled(endpoint)
                wait = math.ceil(max(waits))
                return JsonResponse(
                    {"detail": str(Throttled(wait).detail), "code": "throttled"},
                    status=status.HTTP_429_TOO_MANY_REQUESTS,
                    headers={"Retry-After": str(wait)},
                )
        response = login_view(request, *args, **kwargs)
        if request.method == "POST" and response.status_code == status.HTTP_200_OK:
            logger.info("Failed login at %s", request.path)
            metrics.login_failed(endpoint)
            for throttle in throttles:
                throttle.record_failure()
        return response

    return view


admin_login = throttle_failed_logins(admin.site.login, "admin")
api_auth_login = throttle_failed_logins(
    auth_views.LoginView.as_view(template_name="rest_framework/login.html"),
    "api_auth",
)
