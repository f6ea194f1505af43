"""Domain errors of the orders service (no HTTP meaning here)."""


class OrdersError(Exception):
    """Base class of the orders domain errors."""


class CustomerNotFound(OrdersError):
    """The customer does not exist or is not the caller's to use."""

    def __init__(self) -> None:
        super().__init__("Customer not found.")


class CustomersUnavailable(OrdersError):
    """The customers service could not be used.

    ``maybe_applied`` is True when the request may have reached it (a read
    timeout or a server error), False when it certainly did not.
    """

    def __init__(self, *, maybe_applied: bool) -> None:
        self.maybe_applied = maybe_applied
        super().__init__("The customers service is unavailable.")


class CustomersRefused(OrdersError):
    """The customers service answered with something this service cannot use."""

    def __init__(self, status: int) -> None:
        self.status = status
        super().__init__("The customers service refused the request.")


class ReservationReleased(OrdersError):
    """The customers service refuses this order id: it was released before."""

    def __init__(self) -> None:
        super().__init__("The reservation of this order was released.")


class OrderNotCancellable(OrdersError):
    """Only an approved (or a stale pending) order can be cancelled."""

    def __init__(self, state: str) -> None:
        self.state = state
        super().__init__(f"A {state} order cannot be cancelled.")


class IdempotencyKeyInUse(OrdersError):
    """The first request with this key is still being processed."""

    def __init__(self) -> None:
        super().__init__("A request with this Idempotency-Key is still in progress.")


class IdempotencyKeyReused(OrdersError):
    """The key was already used for a request with another body."""

    def __init__(self) -> None:
        super().__init__(
            "This Idempotency-Key was already used with a different request."
        )
