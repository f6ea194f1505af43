"""The API edge: orders domain errors become HTTP answers here, and only here."""

from rest_framework import status

from common.exception_handlers import domain_exception_handler
from orders_service.orders import exceptions as domain

STATUS_AND_CODE: dict[type[domain.OrdersError], tuple[int, str]] = {
    domain.CustomerNotFound: (status.HTTP_404_NOT_FOUND, "customer_not_found"),
    domain.CustomersUnavailable: (
        status.HTTP_503_SERVICE_UNAVAILABLE,
        "service_unavailable",
    ),
    domain.CustomersRefused: (status.HTTP_502_BAD_GATEWAY, "upstream_refused"),
    domain.OrderNotCancellable: (status.HTTP_409_CONFLICT, "not_cancellable"),
    domain.IdempotencyKeyInUse: (status.HTTP_409_CONFLICT, "idempotency_key_in_use"),
    domain.IdempotencyKeyReused: (
        status.HTTP_422_UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    ),
}


exception_handler = domain_exception_handler(STATUS_AND_CODE)
