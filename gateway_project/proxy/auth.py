"""Edge authentication: a verified bearer access token, or a logged-in session.

Verification is shared_auth's (through the identity app's
``GatewayJWTAuthentication``, which uses the gateway's keys in memory); session
callers get an access token minted for them, after DRF's CSRF check on unsafe
methods.
"""

from django.http import HttpRequest
from rest_framework import exceptions
from rest_framework.authentication import SessionAuthentication

from gateway_project.identity import metrics
from gateway_project.identity.authentication import GatewayJWTAuthentication
from gateway_project.identity.tokens import access_token_for
from shared_auth.context import username_var


def www_authenticate(request: HttpRequest) -> str:
    """Return the ``WWW-Authenticate`` value of a 401 from the gateway."""
    return GatewayJWTAuthentication().authenticate_header(request)


def _bearer_token(request: HttpRequest) -> str | None:
    """Return the verified bearer token of ``request``, or None if it has none.

    Raise ``AuthenticationFailed`` if the token is not valid.
    """
    result = GatewayJWTAuthentication().authenticate(request)
    return None if result is None else result[1].raw


def _session_token(request: HttpRequest) -> str | None:
    """Return an access token minted for the session's user, or None if anonymous.

    Raise ``PermissionDenied`` if an unsafe request fails the CSRF check.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    SessionAuthentication().enforce_csrf(request)
    username_var.set(user.get_username())
    token = access_token_for(user)
    metrics.tokens_issued("session")
    return token


def edge_token(request: HttpRequest) -> str:
    """Return the access token to forward with ``request``.

    A bearer token wins over a session. Raise ``AuthenticationFailed`` or
    ``NotAuthenticated`` (401) without valid credentials and ``PermissionDenied``
    (403) when a session caller fails the CSRF check.
    """
    token = _bearer_token(request) or _session_token(request)
    if token is None:
        raise exceptions.NotAuthenticated()
    return token
