"""The admin's and the browsable API's login forms, throttled as ``/auth/token/``."""

import functools
import logging
import math
from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from rest_framework import status
from rest_framework.exceptions import Throttled

from common.errors import error_response
from gateway_project.identity import metrics
from gateway_project.identity.throttling import LOGIN_THROTTLES

logger = logging.getLogger(__name__)


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
                return error_response(
                    status.HTTP_429_TOO_MANY_REQUESTS,
                    str(Throttled(wait).detail),
                    Throttled.default_code,
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
