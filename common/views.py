"""Views and error handlers shared by the three projects.

Every error a project answers outside DRF is JSON ``{"detail", "code"}`` too,
and never a stack trace.
"""

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse


def healthz(request: HttpRequest) -> JsonResponse:
    """Return 200 while the process is up (liveness)."""
    return JsonResponse({"status": "ok"})


def bad_request(
    request: HttpRequest, exception: Exception | None = None
) -> JsonResponse:
    """Return 413 for a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE``, else 400."""
    if isinstance(exception, RequestDataTooBig):
        return JsonResponse(
            {"detail": "Request body too large.", "code": "request_too_large"},
            status=413,
        )
    return JsonResponse({"detail": "Bad request.", "code": "bad_request"}, status=400)


def permission_denied(
    request: HttpRequest, exception: Exception | None = None
) -> JsonResponse:
    return JsonResponse(
        {
            "detail": "You do not have permission to perform this action.",
            "code": "permission_denied",
        },
        status=403,
    )


def page_not_found(
    request: HttpRequest, exception: Exception | None = None
) -> JsonResponse:
    return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)


def server_error(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {"detail": "Internal server error.", "code": "server_error"}, status=500
    )
