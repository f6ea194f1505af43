"""Reads of the customers service; every one is scoped to the caller."""

from decimal import Decimal
from typing import Protocol

from django.db.models import DecimalField, F, QuerySet, Sum, Value
from django.db.models.functions import Coalesce

from customers_service.customers.models import MONEY, Customer, Reservation


class Caller(Protocol):
    """The authenticated user as the token describes it."""

    id: str
    username: str
    is_staff: bool
    is_machine: bool
    actor: str


def customer_list(*, user: Caller) -> QuerySet[Customer]:
    """Return the customers ``user`` may see (own; staff and machine tokens: all).

    A machine token (client credentials) acts for no user, as at orders: its
    scope alone bounds it.

    Each carries ``reserved_credit`` and ``available_credit`` annotations.
    """
    money = DecimalField(**MONEY)
    queryset = Customer.objects.annotate(
        reserved_credit=Coalesce(
            Sum("reservations__amount"), Value(Decimal("0")), output_field=money
        ),
    ).annotate(available_credit=F("credit_limit") - F("reserved_credit"))
    if not (user.is_staff or user.is_machine):
        queryset = queryset.filter(owner_sub=user.id)
    return queryset.order_by("id")


def customer_reserved_credit(*, customer: Customer) -> Decimal:
    """Return the credit currently reserved against ``customer``."""
    total = customer.reservations.aggregate(total=Sum("amount"))["total"]
    return total or Decimal("0")


def reservation_list(
    *, customer: Customer, order_id: str | None = None
) -> QuerySet[Reservation]:
    """Return ``customer``'s reservations, optionally only ``order_id``'s."""
    queryset = Reservation.objects.filter(customer=customer)
    if order_id is not None:
        queryset = queryset.filter(order_id=order_id)
    return queryset.order_by("id")
