"""What every token endpoint answers alike: a small body limit, no caching."""

from typing import Any

from django.http import HttpResponse
from django.utils.cache import patch_cache_control
from rest_framework.request import Request
from rest_framework.response import Response

from common.parsers import RequestTooLarge

MAX_BODY_SIZE = 16 * 1024


class BodyLimitMixin:
    """Refuse bodies over ``MAX_BODY_SIZE`` with 413 before parsing them."""

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > MAX_BODY_SIZE:
            raise RequestTooLarge()
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
