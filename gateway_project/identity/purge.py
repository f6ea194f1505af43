"""Forgetting what the gateway no longer needs (``manage.py purge``)."""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import (
    BlacklistedToken,
    OutstandingToken,
)

from gateway_project.identity.models import SubjectRevocation


def _now() -> datetime:
    """Return the current time (a seam for tests)."""
    return timezone.now()


def longest_token_life() -> timedelta:
    """Return how long any token the gateway issues can be accepted: the longer
    of the access and refresh lifetimes, plus the leeway at both ends."""
    leeway = api_settings.LEEWAY
    leeway = leeway if isinstance(leeway, timedelta) else timedelta(seconds=leeway)
    lifetimes = (
        api_settings.ACCESS_TOKEN_LIFETIME,
        api_settings.REFRESH_TOKEN_LIFETIME,
    )
    return max(lifetimes) + 2 * leeway


@transaction.atomic
def identity_purge() -> dict[str, int]:
    """Delete expired refresh-token records and subject revocations that no
    longer refuse anything; return how many of each.

    Outstanding tokens past their ``expires_at`` go with their blacklist
    entries (as simplejwt's ``flushexpiredtokens`` does): an expired refresh
    token is refused anyway. A subject revocation older than
    ``longest_token_life()`` only concerns tokens that have all expired.
    """
    now = _now()
    _, by_model = OutstandingToken.objects.filter(expires_at__lte=now).delete()
    revocations, _ = SubjectRevocation.objects.filter(
        not_before__lt=now - longest_token_life()
    ).delete()
    return {
        "outstanding_tokens": by_model.get(OutstandingToken._meta.label, 0),
        "blacklisted_tokens": by_model.get(BlacklistedToken._meta.label, 0),
        "subject_revocations": revocations,
    }
