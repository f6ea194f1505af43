"""Writes of the orders service: creating (reserving credit) and cancelling.

Creating an order is a small saga across two databases:

1. a PENDING order (and its idempotency key, if any) is committed;
2. the customers service reserves the credit, keyed by the order id, with the
   caller's own token (a repeated order id returns the existing reservation);
3. the order becomes APPROVED or REJECTED.

If the customer is not the caller's, or the customers service cannot be used,
the order is deleted again (and after a timeout the reservation that may have
been made is released first), so nothing is left behind. With an
``Idempotency-Key`` the order id is derived from (owner, key, request), so a
retry after a timeout whose release failed finds the same reservation instead
of making a second one, and a retry after a crash between steps 1 and 3 resumes
the PENDING order left behind.
"""

import hashlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from common.money import MONEY_QUANTUM
from orders_service.orders import customers
from orders_service.orders.exceptions import (
    CustomerNotFound,
    CustomersRefused,
    CustomersUnavailable,
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    OrderNotCancellable,
    ReservationReleased,
)
from orders_service.orders.models import IdempotencyKey, Order
from shared_auth.user import Caller

logger = logging.getLogger(__name__)

ORDER_ID_NAMESPACE = uuid.UUID("6f1d8a52-3c1e-4d0b-9a8e-2f5b7c4e9d10")

Render = Callable[[Order], Any]

# Longer than any create can run (gunicorn's timeout is 60 s, the calls to
# customers time out well within it): a PENDING order this old was left behind
# by a crashed process; a retry with its key resumes it, a cancel releases it.
PENDING_STALE_AFTER = timedelta(minutes=2)


@dataclass(frozen=True)
class OrderCreated:
    """The outcome of ``order_create``: the order and the answer it first got."""

    order: Order
    response: Any
    replayed: bool


def _fingerprint(*, customer_id: int, total: Decimal) -> str:
    canonical = f"{customer_id}:{total.quantize(MONEY_QUANTUM)}"
    return hashlib.sha256(canonical.encode()).hexdigest()


def _is_stale(order: Order) -> bool:
    """Return True for a PENDING order whose request can no longer be running."""
    return (
        order.state == Order.State.PENDING
        and order.created_at <= timezone.now() - PENDING_STALE_AFTER
    )


def _key_outcome(
    *, owner: Caller, key: str, fingerprint: str
) -> OrderCreated | Order | None:
    """Return what ``key`` already led to: its first outcome, its PENDING order
    left behind by a crashed request (to resume), or None if the key is unused.

    Raise ``IdempotencyKeyReused`` if the key came with another request,
    ``IdempotencyKeyInUse`` while the first request is still running.
    """
    record = (
        IdempotencyKey.objects.select_related("order")
        .filter(owner_sub=owner.id, key=key)
        .first()
    )
    if record is None:
        return None
    if record.fingerprint != fingerprint:
        raise IdempotencyKeyReused()
    if record.response is not None:
        return OrderCreated(order=record.order, response=record.response, replayed=True)
    if _is_stale(record.order):
        logger.warning(
            "order %s: resuming a PENDING order left behind", record.order_id
        )
        return record.order
    raise IdempotencyKeyInUse()


def _order_start(
    *,
    owner: Caller,
    customer_id: int,
    total: Decimal,
    key: str | None,
    fingerprint: str,
) -> Order:
    """Commit and return a PENDING order, with its idempotency key if any."""
    order_id = (
        uuid.uuid5(ORDER_ID_NAMESPACE, f"{owner.id}\n{key}\n{fingerprint}")
        if key
        else uuid.uuid4()
    )
    with transaction.atomic():
        order = Order.objects.create(
            id=order_id,
            owner_sub=owner.id,
            owner_username=owner.username,
            customer_id=customer_id,
            total=total,
        )
        if key:
            IdempotencyKey.objects.create(
                owner_sub=owner.id, key=key, fingerprint=fingerprint, order=order
            )
    return order


def _order_abandon(*, order: Order, release: bool) -> None:
    """Delete a PENDING order, first releasing its reservation if ``release``."""
    if release:
        try:
            customers.credit_release(
                customer_id=order.customer_id, order_id=str(order.pk)
            )
        except (CustomersUnavailable, CustomersRefused):
            logger.warning(
                "order %s: the reservation may still be held at customers "
                "(a retry with the same Idempotency-Key reuses it)",
                order.pk,
            )
    order.delete()


def order_create(
    *,
    owner: Caller,
    customer_id: int,
    total: Decimal,
    render: Render,
    idempotency_key: str | None = None,
) -> OrderCreated:
    """Create an order and reserve its credit; return the order and its answer.

    ``render(order)`` gives the answer to store for replays. The order is
    APPROVED if the credit was reserved, REJECTED if it was short. With
    ``idempotency_key``, a repeat returns the first outcome (``replayed``).
    Raise ``CustomerNotFound``, ``CustomersUnavailable`` or
    ``CustomersRefused`` with no order stored; ``IdempotencyKeyInUse`` or
    ``IdempotencyKeyReused`` for an unusable key.
    """
    fingerprint = _fingerprint(customer_id=customer_id, total=total)
    outcome = None
    if idempotency_key:
        outcome = _key_outcome(
            owner=owner, key=idempotency_key, fingerprint=fingerprint
        )
    if outcome is None:
        try:
            outcome = _order_start(
                owner=owner,
                customer_id=customer_id,
                total=total,
                key=idempotency_key,
                fingerprint=fingerprint,
            )
        except IntegrityError:
            if not idempotency_key:
                raise
            # A concurrent request with the same key got there first (and may
            # have failed and gone away since: then the caller should retry).
            outcome = _key_outcome(
                owner=owner, key=idempotency_key, fingerprint=fingerprint
            )
            if outcome is None:
                raise IdempotencyKeyInUse() from None
    if isinstance(outcome, OrderCreated):
        return outcome
    return _order_reserve(order=outcome, render=render)


def _order_reserve(*, order: Order, render: Render) -> OrderCreated:
    """Reserve the credit of PENDING ``order`` and settle it (or abandon it)."""
    try:
        reserved = customers.credit_reserve(
            customer_id=order.customer_id, order_id=str(order.pk), amount=order.total
        )
    except CustomerNotFound:
        _order_abandon(order=order, release=False)
        raise
    except CustomersUnavailable as exc:
        _order_abandon(order=order, release=exc.maybe_applied)
        raise
    except CustomersRefused:
        _order_abandon(order=order, release=True)
        raise
    except ReservationReleased:
        # A retry (same Idempotency-Key, same derived id) of an attempt that timed
        # out and was released: that id can never hold credit again, so the order
        # takes a new one, which no earlier attempt can have reserved.
        return _order_reserve(order=_order_renew(order=order), render=render)
    return _order_settle(order=order, reserved=reserved, render=render)


@transaction.atomic
def _order_renew(*, order: Order) -> Order:
    """Return PENDING ``order`` under a new random id, its idempotency key moved."""
    renewed = Order.objects.create(
        owner_sub=order.owner_sub,
        owner_username=order.owner_username,
        customer_id=order.customer_id,
        total=order.total,
    )
    IdempotencyKey.objects.filter(order=order).update(order=renewed)
    order.delete()
    return renewed


@transaction.atomic
def _order_settle(*, order: Order, reserved: bool, render: Render) -> OrderCreated:
    state = Order.State.APPROVED if reserved else Order.State.REJECTED
    if not order.transition(Order.State.PENDING, state):
        # A resumed order that a cancel or the reconciler settled meanwhile:
        # theirs stands (a reservation left on a settled order is released by
        # the reconciler).
        order.refresh_from_db()
    response = render(order)
    IdempotencyKey.objects.filter(order=order, response__isnull=True).update(
        response=response
    )
    transaction.on_commit(lambda: logger.info("order %s %s", order.pk, order.state))
    return OrderCreated(order=order, response=response, replayed=False)


def order_cancel(*, order: Order) -> Order:
    """Cancel an APPROVED order (or a stale PENDING one), releasing its credit.

    Return the order; cancelling a CANCELLED order again returns it unchanged.
    Raise ``OrderNotCancellable`` in any other state.

    The order is CANCELLED before its credit is released, so no fault leaves an
    APPROVED order without its reservation (which would let the customer's
    approved orders exceed the credit limit); a crash in between leaves a
    CANCELLED order still holding credit, which the reconciler releases. If
    the release certainly did not happen (customers unreachable, or it refused),
    the order is put back and ``CustomersUnavailable`` or ``CustomersRefused``
    raised; if it may have (a timeout, a server error), the order stays
    CANCELLED and the reconciler finishes the release.
    """
    if order.state == Order.State.CANCELLED:
        return order
    if order.state != Order.State.APPROVED and not _is_stale(order):
        raise OrderNotCancellable(state=order.state)
    previous = order.state
    if not order.transition(previous, Order.State.CANCELLED):
        order.refresh_from_db()  # moved meanwhile: decide on its new state
        return order_cancel(order=order)
    try:
        customers.credit_release(customer_id=order.customer_id, order_id=str(order.pk))
    except CustomersUnavailable as exc:
        if not exc.maybe_applied:
            order.transition(Order.State.CANCELLED, previous)
            raise
        logger.warning(
            "order %s cancelled, its release may not have reached customers "
            "(the reconciler releases it)",
            order.pk,
        )
    except CustomersRefused:
        order.transition(Order.State.CANCELLED, previous)
        raise
    else:
        logger.info("order %s cancelled", order.pk)
    return order
