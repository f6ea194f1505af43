"""The API edge: customers domain errors become HTTP answers here, and only here."""

from rest_framework import status

from common.exception_handlers import domain_exception_handler
from customers_service.customers import exceptions as domain

STATUS_AND_CODE: dict[type[domain.CustomersError], tuple[int, str]] = {
    domain.InsufficientCredit: (status.HTTP_409_CONFLICT, "insufficient_credit"),
    domain.ReservationConflict: (status.HTTP_409_CONFLICT, "reservation_conflict"),
    domain.CreditLimitBelowReserved: (
        status.HTTP_409_CONFLICT,
        "credit_limit_below_reserved",
    ),
    domain.CustomerHasReservations: (status.HTTP_409_CONFLICT, "has_reservations"),
    domain.ReservationReleased: (status.HTTP_409_CONFLICT, "reservation_released"),
}


exception_handler = domain_exception_handler(STATUS_AND_CODE)
