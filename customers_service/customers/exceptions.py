"""Domain errors of the customers service (no HTTP meaning here)."""

from decimal import Decimal

from common.exceptions import DomainError


class CustomersError(DomainError):
    """Base class of the customers domain errors."""


class InsufficientCredit(CustomersError):
    """The reservation would take the customer over its credit limit."""

    def __init__(self, available: Decimal) -> None:
        self.available = available
        super().__init__(f"Insufficient credit: {available} available.")


class ReservationConflict(CustomersError):
    """The order already holds a reservation with a different amount."""

    default_message = "This order already holds a reservation of another amount."


class ReservationReleased(CustomersError):
    """The order's reservation was released already; it cannot be made again."""

    default_message = "This order's reservation was released; it cannot be made."


class CreditLimitBelowReserved(CustomersError):
    """The new credit limit is lower than the credit already reserved."""

    def __init__(self, reserved: Decimal) -> None:
        self.reserved = reserved
        super().__init__(f"The credit limit cannot go below the {reserved} reserved.")


class CustomerHasReservations(CustomersError):
    """A customer holding reservations cannot be deleted."""

    default_message = "The customer still holds credit reservations."
