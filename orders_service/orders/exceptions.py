"""Domain errors of the orders service (no HTTP meaning here)."""

from common.exceptions import DomainError


class OrdersError(DomainError):
    """Base class of the orders domain errors."""


class CustomerNotFound(OrdersError):
    """The customer does not exist or is not the caller's to use."""

    default_message = "Customer not found."


class CustomersUnavailable(OrdersError):
    """The customers service could not be used.

    ``maybe_applied`` is True when the request may have reached it (a read
    timeout or a server error), False when it certainly did not.
    """

    default_message = "The customers service is unavailable."
    maybe_applied: bool


class CustomersRefused(OrdersError):
    """The customers service answered with something this service cannot use."""

    default_message = "The customers service refused the request."
    status: int


class ReservationReleased(OrdersError):
    """The customers service refuses this order id: it was released before."""

    default_message = "The reservation of this order was released."


class OrderNotCancellable(OrdersError):
    """Only an approved (or a stale pending) order can be cancelled."""

    default_message = "A {state} order cannot be cancelled."
    state: str


class IdempotencyKeyInUse(OrdersError):
    """The first request with this key is still being processed."""

    default_message = "A request with this Idempotency-Key is still in progress."


class IdempotencyKeyReused(OrdersError):
    """The key was already used for a request with another body."""

    default_message = "This Idempotency-Key was already used with a different request."
