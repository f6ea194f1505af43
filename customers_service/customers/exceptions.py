"""Domain errors of the customers service (no HTTP meaning here)."""

from decimal import Decimal


class CustomersError(Exception):
    """Base class of the customers domain errors."""


class InsufficientCredit(CustomersError):
    """The reservation would take the customer over its credit limit."""

    def __init__(self, available: Decimal) -> None:
        self.available = available
        super().__init__(f"Insufficient credit: {available} available.")


class ReservationConflict(CustomersError):
    """The order already holds a reservation with a different amount."""

    def __init__(self) -> None:
        super().__init__("This order already holds a reservation of another amount.")


class ReservationReleased(CustomersError):
    """The order's reservation was released already; it cannot be made again."""

    def __init__(self) -> None:
        super().__init__("This order's reservation was released; it cannot be made.")


class CreditLimitBelowReserved(CustomersError):
    """The new credit limit is lower than the credit already reserved."""

    def __init__(self, reserved: Decimal) -> None:
        self.reserved = reserved
        super().__init__(f"The credit limit cannot go below the {reserved} reserved.")


class CustomerHasReservations(CustomersError):
    """A customer holding reservations cannot be deleted."""

    def __init__(self) -> None:
        super().__init__("The customer still holds credit reservations.")
