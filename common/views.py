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
from common.errors import (
    REQUEST_TOO_LARGE_CODE,
    REQUEST_TOO_LARGE_DETAIL,
    error_response,
)

logger = logging.getLogger(__name__)


def healthz(request: HttpRequest) -> JsonResponse:
    """Return 200 while the process is up (liveness)."""
    return JsonResponse({"status": "ok"})


def draining_response() -> JsonResponse | None:
    """Return the 503 readiness answer of a draining process, else None."""
    if not is_draining():
        return None
    return error_response(503, "Not ready: shutting down.", "draining")


def database_ok() -> bool:
    """Return True if the default database accepts a connection."""
    try:
        connection.ensure_connection()
    except Exception:  # any driver error means "not ready"
        logger.warning("readyz: database unavailable", exc_info=True)
        return False
    return True


def not_ready(down: list[str]) -> JsonResponse:
    """Return the 503 readiness answer naming what is ``down``."""
    return error_response(
        503, f"Not ready: {', '.join(down)} unavailable.", "not_ready", down=down
    )


def readyz(request: HttpRequest) -> JsonResponse:
    """Return 200 when the database answers, 503 if not or while draining."""
    draining = draining_response()
    if draining is not None:
        return draining
    if not database_ok():
        return not_ready(["database"])
    return JsonResponse({"status": "ready"})


def bad_request(
    request: HttpRequest, exception: Exception | None = None
) -> JsonResponse:
    """Return 413 for a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE``, else 400."""
    if isinstance(exception, RequestDataTooBig):
        return error_response(413, REQUEST_TOO_LARGE_DETAIL, REQUEST_TOO_LARGE_CODE)
    return error_response(400, "Bad request.", "bad_request")


def permission_denied(
    request: HttpRequest, exception: Exception | None = None
) -> JsonResponse:
    return error_response(
        403,
        "You do not have permission to perform this action.",
        "permission_denied",
    )


def page_not_found(
    request: HttpRequest, exception: Exception | None = None
) -> JsonResponse:
    return error_response(404, "Not found.", "not_found")


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
        return error_response(
            503,
            "Service temporarily unavailable: database unreachable.",
            "database_unavailable",
            headers={"Retry-After": DATABASE_RETRY_AFTER},
        )
    return error_response(500, "Internal server error.", "server_error")
