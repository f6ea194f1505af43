"""Views and error handlers shared by the three projects.

Every error a project answers outside DRF is JSON ``{"detail", "code"}`` too,
and never a stack trace.
"""

import logging
import sys

from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.http import HttpRequest, JsonResponse

from common.draining import is_draining

logger = logging.getLogger(__name__)


def healthz(request: HttpRequest) -> JsonResponse:
    """Return 200 while the process is up (liveness)."""
    return JsonResponse({"status": "ok"})


def draining_response() -> JsonResponse | None:
    """Return the 503 readiness answer of a draining process, else None."""
    if not is_draining():
        return None
    return JsonResponse(
        {"detail": "Not ready: shutting down.", "code": "draining"}, status=503
    )


def database_ok() -> bool:
    """Return True if the default database accepts a connection."""
    try:
        connection.ensure_connection()
    except Exception:  # any driver error means "not ready"
        logger.warning("readyz: database unavailable", exc_info=True)
        return False
    return True


def readyz(request: HttpRequest) -> JsonResponse:
    """Return 200 when the database answers, 503 if not or while draining."""
    draining = draining_response()
    if draining is not None:
        return draining
    if not database_ok():
        return JsonResponse(
            {"detail": "Not ready: database unavailable.", "down": ["database"]},
            status=503,
        )
    return JsonResponse({"status": "ready"})


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


# The database could not be used at all (down, restarting, connection cut):
# the request may be retried, unlike a bug's 500.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
DATABASE_RETRY_AFTER = "2"


def database_unavailable(exc: BaseException | None) -> bool:
    """Return True if ``exc`` (or what it was raised from) is a lost database."""
    while exc is not None:
        if isinstance(exc, DATABASE_UNAVAILABLE) and isinstance(exc, DatabaseError):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def server_error(request: HttpRequest) -> JsonResponse:
    """Return 503 when the database was unavailable (Retry-After), else 500.

    Django calls this while handling the uncaught exception, so
    ``sys.exc_info()`` still holds it.
    """
    if database_unavailable(sys.exc_info()[1]):
        response = JsonResponse(
            {
                "detail": "Service temporarily unavailable: database unreachable.",
                "code": "database_unavailable",
            },
            status=503,
        )
        response["Retry-After"] = DATABASE_RETRY_AFTER
        return response
    return JsonResponse(
        {"detail": "Internal server error.", "code": "server_error"}, status=500
    )
