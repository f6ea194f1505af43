"""The API edge: customers domain errors become HTTP answers here, and only here."""

from rest_framework import status
from rest_framework.response import Response

from common.api import api_error, json_exception_handler
from customers_service.customers import exceptions as domain

STATUS_AND_CODE: dict[type[domain.CustomersError], tuple[int, str]] = {
    domain.InsufficientCredit: (status.HTTP_409_CONFLICT, "insufficient_credit"),
    domain.ReservationConflict: (status.HTTP_409_CONFLICT, "reservation_conflict"),
    domain.CreditLimitBelowReserved: (
        status.HTTP_409_CONFLICT,
        "credit_limit_below_reserved",
    ),
    domain.CustomerHasReservations: (status.HTTP_409_CONFLICT, "has_reservations"),
    domain.ReservationNotFound: (status.HTTP_404_NOT_FOUND, "not_found"),
}


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """Map domain errors to ``{"detail", "code"}`` answers, then DRF's handler."""
    for error_class, (status_code, code) in STATUS_AND_CODE.items():
        if isinstance(exc, error_class):
            exc = api_error(status_code, str(exc), code)
            break
    return json_exception_handler(exc, context)
