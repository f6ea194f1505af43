"""The proxy's fast path: bearer-token ``/api/`` requests skip what they never use.

A bearer token wins over a session at the edge (``proxy.auth.edge_token``), so
such a request never reads the session, the CSRF cookie, ``request.user`` or
messages, and ``/api/`` is never a static file: it goes straight to the proxy
view, without URL resolution and without the WhiteNoise, session, CSRF,
authentication and messages middleware (a third of the gateway's time per
proxied request; docs/performance.md). Every other request, session callers
included, takes the whole chain.
"""

from collections.abc import Callable, Mapping
from typing import Any

from django.core.handlers.exception import convert_exception_to_response
from django.http import HttpRequest, HttpResponseBase
from django.utils.module_loading import import_string

from gateway_project.proxy.views import proxy
from shared_auth.authentication import JWTAuthentication, bearer_credential

PREFIX = "/api/"
# The gateway's own pages under /api/ (the portal), never proxied.
OWN_PATHS = ("/api/docs/", "/api/schema/")
# What the whole chain runs below this middleware that touches a proxied
# response (Content-Length of the gateway's own answers, the APPEND_SLASH and
# user-agent rules, X-Frame-Options), outermost first, as in MIDDLEWARE.
KEPT_MIDDLEWARE = (
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
)

Handler = Callable[[HttpRequest], HttpResponseBase]


def is_bearer_api_request(environ: Mapping[str, Any]) -> bool:
    """Return True for an ``/api/`` request whose credential is a bearer token
    (``environ``: the WSGI environ, ``request.META``)."""
    path = environ.get("PATH_INFO", "")
    if not path.startswith(PREFIX) or path in OWN_PATHS:
        return False
    return bearer_credential(environ, JWTAuthentication.keyword) is not None


def _chain(view: Handler, middleware: tuple[str, ...]) -> Handler:
    """Return ``view`` wrapped in ``middleware`` the way Django's handler does."""
    handler = convert_exception_to_response(view)
    for path in reversed(middleware):
        handler = convert_exception_to_response(import_string(path)(handler))
    return handler


class BearerProxyMiddleware:
    """Answer bearer-token ``/api/`` requests with the proxy view directly.

    Goes right after ``SecurityMiddleware`` (request id, trusted forwarding and
    the security headers and redirect still apply); the proxy view itself
    checks everything else (path, method, body, token, revocation).
    """

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response
        self.proxy = _chain(proxy, KEPT_MIDDLEWARE)

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if is_bearer_api_request(request.META):
            return self.proxy(request)
        return self.get_response(request)
