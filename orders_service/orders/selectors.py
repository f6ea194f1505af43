"""Reads of the orders service; every one is scoped to the caller."""

from typing import Protocol

from django.db.models import QuerySet

from orders_service.orders.models import Order


class Caller(Protocol):
    """The authenticated user as the token describes it."""

    id: str
    username: str
    is_staff: bool
    is_machine: bool


def order_list(
    *, user: Caller, customer_id: int | None = None, state: str | None = None
) -> QuerySet[Order]:
    """Return the orders ``user`` may see, optionally filtered.

    A user sees their own, staff and machine clients (acting for no user)
    see every order.
    """
    queryset = Order.objects.all()
    if not (user.is_staff or user.is_machine):
        queryset = queryset.filter(owner_sub=user.id)
    if customer_id is not None:
        queryset = queryset.filter(customer_id=customer_id)
    if state is not None:
        queryset = queryset.filter(state=state)
    return queryset
