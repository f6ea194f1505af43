"""The customers service boundary: credit reservations over HTTP.

Calls go through one pooled ``shared_auth`` ``ServiceSession`` per process,
which carries a token exchanged for the current caller's (audience
``customers``, scope ``DELEGATED_SCOPE``; RFC 8693, cached per caller token)
and the request id (read from the request the middleware is serving), with a
timeout on every call. The caller's own token never leaves this service.
Transport failures and answers become the orders domain's errors here.
"""

import logging
from decimal import Decimal
from functools import lru_cache

import requests
from django.conf import settings
from rest_framework import status

from orders_service.orders.exceptions import (
    CustomerNotFound,
    CustomersRefused,
    CustomersUnavailable,
    ReservationReleased,
)
from shared_auth.exceptions import ServiceTimeout, ServiceUnavailable
from shared_auth.session import ServiceSession

logger = logging.getLogger(__name__)

# What the orders service needs of the customers service on a user's behalf.
DELEGATED_SCOPE = "customers:read reservations:write"


@lru_cache(maxsize=4)
def _session(base_url: str) -> ServiceSession:
    return ServiceSession(base_url, "customers", scope=DELEGATED_SCOPE)


def customers_session() -> ServiceSession:
    """Return the process-wide session for ``settings.CUSTOMERS_SERVICE_URL``."""
    return _session(settings.CUSTOMERS_SERVICE_URL)


def _send(method: str, path: str, **kwargs: object) -> requests.Response:
    try:
        response = customers_session().request(method, path, **kwargs)
    except ServiceTimeout as exc:
        raise CustomersUnavailable(maybe_applied=True) from exc
    except ServiceUnavailable as exc:
        raise CustomersUnavailable(maybe_applied=False) from exc
    if response.status_code >= status.HTTP_500_INTERNAL_SERVER_ERROR:
        logger.warning("customers answered %s to %s", response.status_code, method)
        raise CustomersUnavailable(maybe_applied=True)
    if response.status_code == status.HTTP_403_FORBIDDEN and (
        _code(response) == "insufficient_scope"
    ):
        # The exchanged token lacks what customers asks: a deployment error.
        logger.error("customers refused the delegated token: insufficient_scope")
        raise CustomersRefused(response.status_code)
    if response.status_code in (status.HTTP_403_FORBIDDEN, status.HTTP_404_NOT_FOUND):
        raise CustomerNotFound()
    return response


def _code(response: requests.Response) -> str | None:
    try:
        return response.json().get("code")
    except (ValueError, AttributeError):
        return None


def credit_reserve(*, customer_id: int, order_id: str, amount: Decimal) -> bool:
    """Reserve ``amount`` on ``customer_id`` for ``order_id``; idempotent per order.

    Return True if the credit is reserved (now or by an earlier call for the
    same order), False if the credit is short. Raise ``CustomerNotFound`` if
    the caller may not use the customer, ``CustomersUnavailable`` if the
    service cannot be used, ``ReservationReleased`` if ``order_id`` was
    released before, ``CustomersRefused`` for any other answer.
    """
    response = _send(
        "POST",
        f"/api/customers/{customer_id}/reservations/",
        json={"order_id": order_id, "amount": str(amount)},
    )
    if response.status_code in (status.HTTP_200_OK, status.HTTP_201_CREATED):
        return True
    if response.status_code == status.HTTP_409_CONFLICT:
        code = _code(response)
        if code == "insufficient_credit":
            return False
        if code == "reservation_released":
            raise ReservationReleased()
    logger.warning("customers refused a reservation: %s", response.status_code)
    raise CustomersRefused(response.status_code)


def credit_release(*, customer_id: int, order_id: str) -> None:
    """Release ``order_id``'s reservation on ``customer_id`` (gone already is fine).

    Raise ``CustomersUnavailable`` or ``CustomersRefused`` if it may still be held.
    """
    try:
        response = _send(
            "DELETE", f"/api/customers/{customer_id}/reservations/{order_id}/"
        )
    except CustomerNotFound:
        return  # no such reservation (the customers API answers 404 for both)
    if response.status_code != status.HTTP_204_NO_CONTENT:
        logger.warning("customers refused a release: %s", response.status_code)
        raise CustomersRefused(response.status_code)
