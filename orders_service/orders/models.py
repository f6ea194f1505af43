"""Orders and the idempotency keys that created them."""

import uuid
from decimal import Decimal

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone

from common.money import MONEY


class Order(models.Model):
    """An order of ``total`` against a customer's credit, owned by its creator."""

    class State(models.TextChoices):
        PENDING = "PENDING"
        APPROVED = "APPROVED"
        REJECTED = "REJECTED"
        CANCELLED = "CANCELLED"

    # Also the reservation's order id at the customers service.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner_sub = models.CharField(max_length=255, db_index=True)
    owner_username = models.CharField(max_length=150)
    customer_id = models.PositiveBigIntegerField(db_index=True)
    total = models.DecimalField(**MONEY)
    state = models.CharField(max_length=10, choices=State, default=State.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(total__gt=Decimal("0")), name="order_total_positive"
            )
        ]

    def __str__(self) -> str:
        return f"order {self.pk} ({self.state})"

    def transition(self, source: str, target: str) -> bool:
        """Move this order from state ``source`` to ``target``, in one
        conditional UPDATE; return False (and change nothing) if its row is no
        longer in ``source`` (a concurrent request or the reconciler moved it).
        """
        now = timezone.now()
        moved = Order.objects.filter(pk=self.pk, state=source).update(
            state=target, updated_at=now
        )
        if moved:
            self.state, self.updated_at = target, now
        return bool(moved)


class IdempotencyKey(models.Model):
    """An ``Idempotency-Key`` one owner sent, and the first answer it got.

    Unique per owner in the database, so replicas share it and it survives
    restarts. ``response`` stays null while the first request is in flight.
    """

    owner_sub = models.CharField(max_length=255)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    order = models.OneToOneField(
        Order, on_delete=models.CASCADE, related_name="idempotency_key"
    )
    response = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["owner_sub", "key"], name="idempotency_key_once_per_owner"
            )
        ]

    def __str__(self) -> str:
        return f"{self.key} -> {self.order_id}"
