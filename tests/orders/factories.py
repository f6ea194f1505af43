"""Factories of orders-service rows for the tests."""

from decimal import Decimal
from typing import Any

from orders_service.orders.models import IdempotencyKey, Order


def make_order(
    *,
    owner_sub: str = "1",
    owner_username: str = "alice",
    customer_id: int = 1,
    total: str = "10.00",
    state: str = Order.State.APPROVED,
    **fields: Any,
) -> Order:
    """Return a stored order (alice's, approved, unless told); ``fields`` such
    as ``id`` go to the model as they are."""
    return Order.objects.create(
        owner_sub=owner_sub,
        owner_username=owner_username,
        customer_id=customer_id,
        total=Decimal(total),
        state=state,
        **fields,
    )


def make_idempotency_key(
    order: Order,
    *,
    key: str = "k",
    fingerprint: str = "f",
    response: dict[str, Any] | None = None,
) -> IdempotencyKey:
    """Return ``order``'s stored Idempotency-Key (its owner's), answered with
    ``response`` (None: still in flight)."""
    return IdempotencyKey.objects.create(
        owner_sub=order.owner_sub,
        key=key,
        fingerprint=fingerprint,
        order=order,
        response=response,
    )
