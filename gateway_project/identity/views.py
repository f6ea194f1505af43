"""Login, tokens and the caller's identity (see the contract).

The token views are simplejwt's, with: a small body limit (413,
``identity.http``), login throttling (failed logins only), logout answering
204 (and logging out everywhere with ``{"all": true}``). The revocation feed
is in ``identity.feed``, the published keys in ``identity.documents``, the
throttled login forms in ``identity.login_forms``.
"""

import logging
from collections.abc import Mapping
from typing import Any

from rest_framework import status
from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView
from rest_framework_simplejwt import views as simplejwt_views

from gateway_project.identity import metrics
from gateway_project.identity.authentication import GatewayJWTAuthentication
from gateway_project.identity.http import BodyLimitMixin, NoStoreMixin
from gateway_project.identity.services import subject_tokens_revoke
from gateway_project.identity.throttling import LOGIN_THROTTLES

logger = logging.getLogger(__name__)


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
