"""Forgetting what the orders service no longer needs (``manage.py purge``)."""

from datetime import datetime

from django.conf import settings
from django.utils import timezone

from orders_service.orders.models import IdempotencyKey


def _now() -> datetime:
    """Return the current time (a seam for tests)."""
    return timezone.now()


def orders_purge() -> dict[str, int]:
    """Delete idempotency keys older than ``IDEMPOTENCY_KEY_RETENTION``.

    Return ``{"idempotency_keys": deleted}``. The orders stay; a key sent again
    after this is a new request. A key still waiting for its first answer is
    kept (the reconciler settles its order first).
    """
    cutoff = _now() - settings.IDEMPOTENCY_KEY_RETENTION
    deleted, _ = IdempotencyKey.objects.filter(
        created_at__lt=cutoff, response__isnull=False
    ).delete()
    return {"idempotency_keys": deleted}
