"""Writes of the customers service: customers and credit reservations.

Every write touching a customer's credit locks the customer row first
(``select_for_update``; on SQLite the ``BEGIN IMMEDIATE`` transaction takes the
database write lock), so concurrent reservations are serialized and the
reserved total never exceeds the credit limit.

A release leaves a ``ReleasedReservation`` tombstone, even when it finds no
reservation: orders releases after a timed-out reserve, and that reserve may
still be on its way. Both lock the customer row, so whichever comes second sees
the first: a reserve arriving after the release finds the tombstone and is
refused instead of holding credit for an order that no longer exists.
"""

import logging
from decimal import Decimal

from django.db import transaction

from customers_service.customers.exceptions import (
    CreditLimitBelowReserved,
    CustomerHasReservations,
    InsufficientCredit,
    ReservationConflict,
    ReservationReleased,
)
from customers_service.customers.models import (
    Customer,
    ReleasedReservation,
    Reservation,
)
from customers_service.customers.selectors import Caller, customer_reserved_credit

logger = logging.getLogger(__name__)


def _locked(customer: Customer) -> Customer:
    """Return ``customer`` re-read with its row locked until the transaction ends."""
    return Customer.objects.select_for_update().get(pk=customer.pk)


def customer_create(*, owner: Caller, name: str, credit_limit: Decimal) -> Customer:
    """Create and return a customer owned by ``owner``."""
    customer = Customer.objects.create(
        owner_sub=owner.id,
        owner_username=owner.username,
        name=name,
        credit_limit=credit_limit,
    )
    logger.info("customer %s created", customer.pk)
    return customer


@transaction.atomic
def customer_update(
    *, customer: Customer, name: str | None = None, credit_limit: Decimal | None = None
) -> Customer:
    """Update and return ``customer``.

    Raise ``CreditLimitBelowReserved`` if ``credit_limit`` is below the credit
    already reserved.
    """
    customer = _locked(customer)
    if credit_limit is not None:
        reserved = customer_reserved_credit(customer=customer)
        if credit_limit < reserved:
            raise CreditLimitBelowReserved(reserved)
        customer.credit_limit = credit_limit
    if name is not None:
        customer.name = name
    customer.save(update_fields=["name", "credit_limit", "updated_at"])
    return customer


@transaction.atomic
def customer_delete(*, customer: Customer) -> None:
    """Delete ``customer``; raise ``CustomerHasReservations`` if it holds any."""
    customer = _locked(customer)
    if customer.reservations.exists():
        raise CustomerHasReservations()
    customer.delete()
    logger.info("customer %s deleted", customer.pk)


@transaction.atomic
def reservation_create(
    *, customer: Customer, order_id: str, amount: Decimal, reserved_by: Caller
) -> tuple[Reservation, bool]:
    """Reserve ``amount`` of ``customer``'s credit for ``order_id``.

    Return ``(reservation, created)``: an existing reservation of the same
    order and amount is returned as is (``created`` False), so retries never
    reserve twice. Raise ``ReservationReleased`` if the order's reservation
    was released already, ``ReservationConflict`` if the order holds a
    reservation of another amount, ``InsufficientCredit`` if the credit left
    is short. ``reserved_by`` is the caller: the user it is made for, acting
    through a service (``reserved_by.actor``).
    """
    customer = _locked(customer)
    if customer.released_reservations.filter(order_id=order_id).exists():
        raise ReservationReleased()
    existing = customer.reservations.filter(order_id=order_id).first()
    if existing is not None:
        if existing.amount != amount:
            raise ReservationConflict()
        return existing, False
    available = customer.credit_limit - customer_reserved_credit(customer=customer)
    if amount > available:
        raise InsufficientCredit(available)
    reservation = Reservation.objects.create(
        customer=customer,
        order_id=order_id,
        amount=amount,
        sub=reserved_by.id,
        username=reserved_by.username,
        actor=reserved_by.actor,
    )
    transaction.on_commit(
        lambda: logger.info(
            "reserved %s on customer %s for order %s", amount, customer.pk, order_id
        )
    )
    return reservation, True


@transaction.atomic
def reservation_release(*, customer: Customer, order_id: str) -> None:
    """Release ``order_id``'s reservation, if any, and refuse it from now on.

    Idempotent: releasing an order never reserved, or released already, only
    makes sure its tombstone exists.
    """
    customer = _locked(customer)
    deleted, _ = customer.reservations.filter(order_id=order_id).delete()
    ReleasedReservation.objects.get_or_create(customer=customer, order_id=order_id)
    transaction.on_commit(
        lambda: logger.info(
            "released order %s on customer %s (%s reservation deleted)",
            order_id,
            customer.pk,
            deleted,
        )
    )
