"""Exceptions DRF renders as JSON ``{"detail": ...}`` with the contract's statuses."""

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.exceptions import APIException, PermissionDenied
from rest_framework.response import Response


class ServiceUnavailable(APIException):
    """A service this one depends on could not be used: 503, naming it.

    Raised when the call never reached the service (connection refused, DNS,
    connect timeout, TLS, retries exhausted): nothing was applied there.
    ``service`` names the dependency.
    """

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = _("A service this request depends on is unavailable.")
    default_code = "service_unavailable"
    message = _("The {service} service is unavailable.")

    def __init__(self, service: str, detail: str | None = None) -> None:
        self.service = service
        super().__init__(detail or self.message.format(service=service))


class ServiceTimeout(ServiceUnavailable):
    """The request was sent but no complete answer came back: still 503.

    Raised on a read timeout or a connection dropped after sending. Unlike its
    parent, the call may have been applied; callers that care (non-idempotent
    writes) should reconcile, e.g. by retrying with the same idempotency key.
    """

    default_code = "service_timeout"
    message = _("The {service} service did not answer in time.")


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's exception handler, with RFC 6750's answer to a missing scope.

    For projects without their own handler (``EXCEPTION_HANDLER``); a project
    that has one calls ``apply_scope_challenge`` itself (as ``common.api``).
    """
    # Imported here: rest_framework.views imports the authentication classes.
    from rest_framework.views import exception_handler as drf_exception_handler

    from shared_auth.permissions import apply_scope_challenge

    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, PermissionDenied):
        apply_scope_challenge(response, context.get("request"))
    return response
