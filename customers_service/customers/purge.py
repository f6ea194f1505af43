"""Forgetting what the customers service no longer needs (``manage.py purge``)."""

from datetime import datetime

from django.conf import settings
from django.utils import timezone

from customers_service.customers.models import ReleasedReservation


def _now() -> datetime:
    """Return the current time (a seam for tests)."""
    return timezone.now()


def customers_purge() -> dict[str, int]:
    """Delete release tombstones older than ``RELEASE_TOMBSTONE_RETENTION``.

    Return ``{"release_tombstones": deleted}``. A tombstone only has to outlive
    any reserve of its order still on its way (bounded by the calls' timeouts)
    and any retry under the same Idempotency-Key (``IDEMPOTENCY_KEY_RETENTION``
    at orders, shorter).
    """
    cutoff = _now() - settings.RELEASE_TOMBSTONE_RETENTION
    deleted, _ = ReleasedReservation.objects.filter(released_at__lt=cutoff).delete()
    return {"release_tombstones": deleted}
