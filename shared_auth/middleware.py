"""Request-id middleware: every response carries ``X-Request-ID``."""

import re
import secrets
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from shared_auth.context import current_request_var, request_id_var, username_var

REQUEST_ID_HEADER = "X-Request-ID"
# Its WSGI environ key: read there, ``request.headers`` (all headers copied into a
# new mapping on first use) is not built for it on every request.
_REQUEST_ID_META = "HTTP_X_REQUEST_ID"
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")


def sane_request_id(value: str | None) -> str:
    """Return ``value`` if it is a sane request id, else a new random one."""
    if value and _SANE_REQUEST_ID.fullmatch(value):
        return value
    return secrets.token_hex(16)  # 32 hex digits, a third of uuid4().hex's time


class RequestIdMiddleware:
    """Keep a sane incoming ``X-Request-ID`` or make one, and expose it.

    The id is stored on ``request.request_id``, in a contextvar for logging and
    outgoing calls, and set on the response.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = sane_request_id(request.META.get(_REQUEST_ID_META))
        request.request_id = request_id
        id_token = request_id_var.set(request_id)
        request_token = current_request_var.set(request)
        user_token = username_var.set("-")
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(id_token)
            current_request_var.reset(request_token)
            username_var.reset(user_token)
        response[REQUEST_ID_HEADER] = request_id
        return response
