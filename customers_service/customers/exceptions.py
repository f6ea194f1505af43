"""Domain errors of the customers service (no HTTP meaning here)."""

from decimal import Decimal

from common.exceptions import DomainError


class CustomersError(DomainError):
    """Base class of the customers domain errors."""


class InsufficientCredit(CustomersError):
    """The reservation would take the customer over its credit limit."""

    default_message = "Insufficient credit: {available} available."
    available: Decimal


class ReservationConflict(CustomersError):
    """The order already holds a reservation with a different amount."""

    default_message = "This order already holds a reservation of another amount."


class ReservationReleased(CustomersError):
    """The order's reservation was released already; it cannot be made again."""

    default_message = "This order's reservation was released; it cannot be made."


class CreditLimitBelowReserved(CustomersError):
    """The new credit limit is lower than the credit already reserved."""

    default_message = "The credit limit cannot go below the {reserved} reserved."
    reserved: Decimal


class CustomerHasReservations(CustomersError):
    """A customer holding reservations cannot be deleted."""

    default_message = "The customer still holds credit reservations."
