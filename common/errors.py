"""The one JSON error body of the three projects: ``{"detail", "code"}``.

DRF views raise and ``common.exception_handlers`` renders; every answer built
outside DRF (Django's error handlers, readiness, the proxy, the metrics
endpoint, the throttled login forms) comes from ``error_response``. Plain
Django only: DRF's parsers import this module.
"""

from typing import Any

from django.http import JsonResponse


def error_body(detail: str, code: str, **extra: Any) -> dict[str, Any]:
    """Return ``{"detail": detail, "code": code, **extra}``."""
    return {"detail": detail, "code": code, **extra}


def error_response(
    status: int,
    detail: str,
    code: str,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JsonResponse:
    """Return a ``status`` JSON response ``{"detail", "code", **extra}``."""
    return JsonResponse(
        error_body(detail, code, **extra), status=status, headers=headers
    )


# A body over the size limit, whoever refuses it (Django, the JSON parser, the
# proxy, the token endpoints): 413 with this detail and code.
REQUEST_TOO_LARGE_DETAIL = "Request body too large."
REQUEST_TOO_LARGE_CODE = "request_too_large"
