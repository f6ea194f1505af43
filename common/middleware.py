"""Middleware the three projects share: the Content-Security-Policy header.

Django 5.2 has no CSP support of its own; this is the whole of what the
projects need from a CSP package (django-csp 4.0 would bring nonces, report-only
mode and per-view decorators, none used here): one fixed policy on every HTML
page (admin, browsable API, Swagger UI) that does not set its own.
"""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase


class ContentSecurityPolicyMiddleware:
    """Add ``settings.CONTENT_SECURITY_POLICY`` to HTML responses lacking one.

    The policy is read once, when the middleware is built; an empty policy
    adds nothing.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]):
        self.get_response = get_response
        self.policy = settings.CONTENT_SECURITY_POLICY

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if (
            self.policy
            and "Content-Security-Policy" not in response
            and response.get("Content-Type", "").startswith("text/html")
        ):
            response["Content-Security-Policy"] = self.policy
        return response
