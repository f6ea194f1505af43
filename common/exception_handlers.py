"""DRF exception handlers: every error leaves a service as ``{"detail", "code"}``.

A validation error also names the offending field first in ``detail`` and
keeps DRF's per-field messages under ``errors``; the services map their domain
errors (``common.exceptions.DomainError``) with ``domain_exception_handler``.
"""

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from django.http import Http404
from rest_framework.exceptions import (
    APIException,
    ErrorDetail,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from shared_auth.permissions import apply_scope_challenge


def _first_error(errors: Any, path: tuple[str, ...] = ()) -> tuple[str, ErrorDetail]:
    """Return the dotted field path and message of the first error in ``errors``."""
    if isinstance(errors, Mapping):
        key, value = next(iter(errors.items()))
        return _first_error(value, (*path, str(key)))
    if isinstance(errors, Sequence) and not isinstance(errors, str) and errors:
        return _first_error(errors[0], path)
    return ".".join(path), errors


def json_exception_handler(exc: Exception, context: dict) -> Response | None:
    """Return DRF's error response, with ``detail`` and ``code`` always present.

    A ``ValidationError`` becomes 400 ``{"detail": "<field>: <message>",
    "code": ..., "errors": {<field>: [...]}}``. A 404 never names the model.
    A 403 for a missing scope is RFC 6750's ``insufficient_scope`` answer.
    """
    if isinstance(exc, Http404):
        exc = NotFound()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, ValidationError):
        field, message = _first_error(exc.detail)
        if field in ("", "non_field_errors"):
            detail = str(message)
        else:
            detail = f"{field}: {message}"
        response.data = {
            "detail": detail,
            "code": getattr(message, "code", "invalid"),
            "errors": exc.detail,
        }
    elif isinstance(response.data, dict) and "detail" in response.data:
        detail = response.data["detail"]
        response.data.setdefault("code", getattr(detail, "code", "error"))
    if isinstance(exc, PermissionDenied):
        apply_scope_challenge(response, context.get("request"))
    return response


def api_error(status_code: int, detail: str, code: str) -> APIException:
    """Return a DRF exception answering ``status_code`` with ``detail`` and ``code``."""
    exc = APIException(detail=detail, code=code)
    exc.status_code = status_code
    return exc


ExceptionHandler = Callable[[Exception, dict], Response | None]


def domain_exception_handler(
    status_and_code: Mapping[type[Exception], tuple[int, str]],
) -> ExceptionHandler:
    """Return a DRF exception handler mapping domain errors to HTTP answers.

    An instance of a key of ``status_and_code`` answers its ``(status, code)``
    with the error's message as ``detail``; anything else goes to
    ``json_exception_handler``.
    """

    def handler(exc: Exception, context: dict) -> Response | None:
        for error_class, (status_code, code) in status_and_code.items():
            if isinstance(exc, error_class):
                exc = api_error(status_code, str(exc), code)
                break
        return json_exception_handler(exc, context)

    return handler
