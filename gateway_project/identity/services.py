"""Writes of the identity app."""

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import (
    BlacklistedToken,
    OutstandingToken,
)


def refresh_tokens_revoke(*, users: Iterable[AbstractBaseUser]) -> int:
    """Blacklist every unexpired refresh token of ``users``; return how many.

    Access tokens already issued live on until they expire (at most
    ``ACCESS_TOKEN_LIFETIME``).
    """
    live = OutstandingToken.objects.filter(
        user__in=list(users),
        expires_at__gt=timezone.now(),
        blacklistedtoken__isnull=True,
    )
    created = BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in live], ignore_conflicts=True
    )
    return len(created)
