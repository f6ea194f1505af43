"""Reconciling orders with the credit reservations held at the customers service.

A create that crashed, or timed out and then failed to release, can leave a
PENDING order behind, or a reservation whose order was abandoned. One pass of
``reservations_reconcile`` (``manage.py reconcile_reservations``), safe to run
while serving and as often as wanted:

1. lists every reservation held at customers (``Customers.held``);
2. settles every order PENDING for longer than the grace period: APPROVED if
   its reservation is held, else REJECTED (its idempotency key then replays
   that answer). Both are conditional updates of a still-PENDING row, so a
   same-key retry resuming the order at the same moment wins or loses whole;
3. releases every listed reservation whose order is not APPROVED (absent,
   REJECTED, CANCELLED, or PENDING past the grace period), re-reading the
   order just before: a PENDING order within the grace period may still be
   reserving and is left alone. A cancel that crashed, or timed out, between
   cancelling its order and releasing leaves such a CANCELLED order.

The customers service is reached through ``Customers``, a small protocol: the
command uses ``CustomersApi`` (HTTP, with the orders client's own token: a
machine token acts for no user, so customers lists every customer to it and
lets it, an allowed actor, release reservations); the tests a stand-in.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from orders_service.orders.models import IdempotencyKey, Order
from orders_service.orders.serializers import OrderSerializer
from orders_service.orders.services import PENDING_STALE_AFTER
from shared_auth.exceptions import ServiceTimeout, ServiceUnavailable
from shared_auth.session import ServiceSession

logger = logging.getLogger(__name__)

# The orders client's own token for this job (contract "Machine clients"); the
# gateway's provisioning grants it these scopes for audience customers.
RECONCILER_SCOPE = "customers:read reservations:write"
TOKEN_TIMEOUT = (3.0, 10.0)


class ReconcileError(Exception):
    """The customers service could not be listed or refused a release."""


@dataclass(frozen=True)
class Held:
    """A reservation held at customers: ``amount`` for ``order_id``."""

    customer_id: int
    order_id: str
    amount: Decimal


class Customers(Protocol):
    """What the reconciler needs of the customers service."""

    def held(self) -> Iterator[Held]:
        """Yield every reservation held, of every customer."""

    def release(self, *, customer_id: int, order_id: str) -> None:
        """Release ``order_id``'s reservation (idempotent; leaves a tombstone)."""


@dataclass
class Report:
    """What one pass did (the command prints it as one JSON line)."""

    reservations_seen: int = 0
    approved: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    released: list[str] = field(default_factory=list)
    release_failed: list[str] = field(default_factory=list)


def _now() -> datetime:
    """Return the current time (a seam for tests)."""
    return timezone.now()


def _settle(order: Order, state: str) -> bool:
    """Set still-PENDING ``order`` to ``state`` and store its replayable answer.

    Return False if the order is no longer PENDING (someone else settled it).
    """
    with transaction.atomic():
        if not order.transition(Order.State.PENDING, state):
            return False
        IdempotencyKey.objects.filter(order=order, response__isnull=True).update(
            response=OrderSerializer(order).data
        )
    logger.warning("order %s was PENDING past the grace period: %s", order.pk, state)
    return True


def reservations_reconcile(
    *, customers: Customers, grace: timedelta = PENDING_STALE_AFTER
) -> Report:
    """Run one reconciling pass (see the module) and return what it did.

    Raise ``ReconcileError`` if the reservations cannot be listed; a release
    that fails is reported and retried by the next pass.
    """
    report = Report()
    held = {(h.customer_id, h.order_id): h for h in customers.held()}
    report.reservations_seen = len(held)
    cutoff = _now() - grace
    stale = Order.objects.filter(state=Order.State.PENDING, created_at__lte=cutoff)
    for order in stale.order_by("created_at"):
        if (order.customer_id, str(order.pk)) in held:
            if _settle(order, Order.State.APPROVED):
                report.approved.append(str(order.pk))
        elif _settle(order, Order.State.REJECTED):
            report.rejected.append(str(order.pk))
    for customer_id, order_id in held:
        if _keep(customer_id=customer_id, order_id=order_id, cutoff=cutoff):
            continue
        try:
            customers.release(customer_id=customer_id, order_id=order_id)
        except ReconcileError:
            logger.warning("reconcile: releasing order %s failed", order_id)
            report.release_failed.append(order_id)
            continue
        logger.warning(
            "reconcile: released order %s on customer %s (no APPROVED order)",
            order_id,
            customer_id,
        )
        report.released.append(order_id)
    return report


def _keep(*, customer_id: int, order_id: str, cutoff: datetime) -> bool:
    """Return True if the reservation belongs to an APPROVED order, or to one
    still within its grace period (it may be reserving right now)."""
    order = Order.objects.filter(pk=_uuid_or_none(order_id)).first()
    if order is None or order.customer_id != customer_id:
        return False
    if order.state == Order.State.APPROVED:
        return True
    return order.state == Order.State.PENDING and order.created_at > cutoff


def _uuid_or_none(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


# -- over HTTP -------------------------------------------------------------------
class CustomersApi:
    """``Customers`` over the customers API, with a bearer ``token``.

    The token must let its holder list every customer (``customers:read`` for
    no particular user) and write reservations (``reservations:write``).
    """

    def __init__(self, *, base_url: str, token: str, page_size: int = 100) -> None:
        self.session = ServiceSession(base_url, "customers", token=token)
        self.page_size = page_size

    def _get(self, path: str) -> Any:
        try:
            response = self.session.get(path)
        except (ServiceUnavailable, ServiceTimeout) as exc:
            raise ReconcileError(f"GET {path}: {exc}") from exc
        if response.status_code != 200:
            raise ReconcileError(f"GET {path}: {response.status_code}")
        return response.json()

    def _pages(self, path: str) -> Iterator[dict]:
        next_path: str | None = f"{path}?page_size={self.page_size}"
        while next_path:
            page = self._get(next_path)
            yield from page["results"]
            following = page.get("next")
            # Follow the path and query only: never another host.
            next_path = None
            if following:
                parts = urlsplit(following)
                next_path = f"{parts.path}?{parts.query}"

    def held(self) -> Iterator[Held]:
        """Yield every reservation of every customer the token may see."""
        for customer in self._pages("/api/customers/"):
            path = f"/api/customers/{int(customer['id'])}/reservations/"
            for reservation in self._pages(path):
                yield Held(
                    int(customer["id"]),
                    str(reservation["order_id"]),
                    Decimal(str(reservation["amount"])),
                )

    def release(self, *, customer_id: int, order_id: str) -> None:
        """Release ``order_id`` on ``customer_id``; raise ``ReconcileError`` if not."""
        path = f"/api/customers/{customer_id}/reservations/{order_id}/"
        try:
            response = self.session.delete(path)
        except (ServiceUnavailable, ServiceTimeout) as exc:
            raise ReconcileError(f"DELETE {path}: {exc}") from exc
        if response.status_code not in (204, 404):
            raise ReconcileError(f"DELETE {path}: {response.status_code}")


def client_credentials_token(*, post: Callable[..., Any] = requests.post) -> str:
    """Return an access token of the orders client for the customers service.

    ``POST <JWT_ISSUER>/auth/oauth/token/`` with HTTP Basic
    ``ORDERS_CLIENT_ID``/``ORDERS_CLIENT_SECRET``, ``grant_type=client_credentials``,
    scope ``RECONCILER_SCOPE``, audience ``customers``. Raise ``ReconcileError``
    if the gateway refuses.
    """
    try:
        response = post(
            f"{settings.JWT_ISSUER}/auth/oauth/token/",
            data={
                "grant_type": "client_credentials",
                "scope": RECONCILER_SCOPE,
                "audience": "customers",
            },
            auth=(settings.ORDERS_CLIENT_ID, settings.ORDERS_CLIENT_SECRET),
            timeout=TOKEN_TIMEOUT,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        raise ReconcileError(f"token endpoint unreachable: {exc}") from exc
    if response.status_code != 200:
        raise ReconcileError(f"token endpoint answered {response.status_code}")
    return response.json()["access_token"]
