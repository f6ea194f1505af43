"""Exceptions DRF renders as JSON ``{"detail": ...}`` with the contract's statuses."""

from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.exceptions import APIException


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
