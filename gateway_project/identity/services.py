"""Writes of the identity app."""

import logging
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import (
    BlacklistedToken,
    OutstandingToken,
)

from gateway_project.identity.models import SubjectRevocation, TokenRevocation
from gateway_project.identity.revocations import revocations_changed

logger = logging.getLogger(__name__)


def refresh_tokens_revoke(*, users: Iterable[AbstractBaseUser]) -> int:
    """Blacklist every unexpired refresh token of ``users``; return how many.

    Access tokens already issued live on until they expire (at most
    ``ACCESS_TOKEN_LIFETIME``); ``subject_tokens_revoke`` refuses them too.
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


def subject_of(user: AbstractBaseUser) -> str:
    """Return the ``sub`` claim of ``user``'s tokens."""
    return str(getattr(user, api_settings.USER_ID_FIELD))


def _user_of(sub: str) -> AbstractBaseUser | None:
    """Return the user whose tokens carry ``sub``, or None if there is none."""
    lookup = {api_settings.USER_ID_FIELD: sub}
    try:
        return get_user_model()._default_manager.filter(**lookup).first()
    except (ValueError, TypeError, ValidationError):  # not a valid id at all
        return None


def subject_tokens_revoke(
    *,
    user: AbstractBaseUser | None = None,
    sub: str | None = None,
    at: datetime | None = None,
) -> SubjectRevocation:
    """Refuse every token of ``user`` (or subject ``sub``) issued up to ``at``.

    ``at`` defaults to now. Once the transaction commits, every gateway
    process refuses such tokens from its next request (``revocations``);
    services learn it from the revocation feed within their interval.
    The user's outstanding refresh tokens (if the user still exists) are
    blacklisted too, as the admin then shows. A later ``at`` than the recorded
    one wins; an earlier one changes nothing.
    """
    if (user is None) == (sub is None):
        raise TypeError("Pass exactly one of user and sub.")
    sub = subject_of(user) if user is not None else str(sub)
    at = at or timezone.now()
    revocation, created = SubjectRevocation.objects.get_or_create(
        sub=sub, defaults={"not_before": at}
    )
    if not created and revocation.not_before < at:
        SubjectRevocation.objects.filter(sub=sub, not_before__lt=at).update(
            not_before=at
        )
        revocation.not_before = at
    user = user if user is not None else _user_of(sub)
    if user is not None:
        refresh_tokens_revoke(users=[user])
    transaction.on_commit(revocations_changed, robust=True)
    logger.info("Revoked the tokens of subject %s issued up to %s", sub, at)
    return revocation


def access_token_revoke(*, jti: str, exp: float, client_id: str = "") -> None:
    """Refuse the access token ``jti`` (expiring at epoch ``exp``) from now on.

    Once the transaction commits, every gateway process refuses it from its
    next request (``revocations``); services learn it from the feed's
    ``tokens``. Rows of tokens expired for a while are deleted on the way.
    Revoking a token twice changes nothing.
    """
    now = timezone.now()
    TokenRevocation.objects.get_or_create(
        jti=jti,
        defaults={
            "exp": datetime.fromtimestamp(exp, UTC),
            "revoked_at": now,
            "client_id": client_id,
        },
    )
    TokenRevocation.objects.filter(exp__lt=now - timedelta(hours=1)).delete()
    transaction.on_commit(revocations_changed, robust=True)
    logger.info("Revoked access token %s of client %s", jti, client_id)
