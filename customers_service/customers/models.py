"""Customers and the credit reserved against them."""

from decimal import Decimal

from django.db import models
from django.db.models import Q

MONEY = {"max_digits": 12, "decimal_places": 2}


class Customer(models.Model):
    """A customer owned by the user (token ``sub``) who created it."""

    owner_sub = models.CharField(max_length=255, db_index=True)
    owner_username = models.CharField(max_length=150)
    name = models.CharField(max_length=200)
    credit_limit = models.DecimalField(**MONEY)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(credit_limit__gt=Decimal("0")),
                name="customer_credit_limit_positive",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} (#{self.pk})"


class Reservation(models.Model):
    """Credit held for one order; at most one per ``(customer, order_id)``.

    ``sub`` and ``username`` name the user it was made for, ``actor`` the
    service that made it for them (``act.sub`` of its delegated token).
    """

    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="reservations"
    )
    order_id = models.CharField(max_length=64)
    amount = models.DecimalField(**MONEY)
    # The user it was made for (the token's sub and username) and, as actor,
    # the service that made it for them (the token's act.sub, RFC 8693).
    sub = models.CharField(max_length=255)
    username = models.CharField(max_length=150, blank=True)
    actor = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "order_id"], name="reservation_one_per_order"
            ),
            models.CheckConstraint(
                condition=Q(amount__gt=Decimal("0")), name="reservation_amount_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount} for order {self.order_id}"

    @property
    def owner_sub(self) -> str:
        """Return the ``sub`` of the customer's owner (for object permissions)."""
        return self.customer.owner_sub


class ReleasedReservation(models.Model):
    """A tombstone: ``order_id``'s credit on ``customer`` was released for good.

    Written by every release, whether or not a reservation was found, so a
    reservation that reaches the customer after its release is refused.
    """

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="released_reservations"
    )
    order_id = models.CharField(max_length=64)
    released_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "order_id"], name="release_one_per_order"
            )
        ]

    def __str__(self) -> str:
        return f"order {self.order_id} released"
