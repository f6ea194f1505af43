"""Reads of the identity app."""

from datetime import UTC, datetime, timedelta

from rest_framework_simplejwt.settings import api_settings

from gateway_project.identity.models import SubjectRevocation, TokenRevocation


def issued_at(iat: float) -> datetime:
    """Return the aware datetime of a token's ``iat`` (microseconds kept)."""
    return datetime.fromtimestamp(iat, UTC)


def subject_token_is_revoked(*, sub: str, iat: float) -> bool:
    """Return True if tokens of ``sub`` issued at ``iat`` were revoked.

    One indexed query (primary key), whatever the table's size.
    """
    return SubjectRevocation.objects.filter(
        sub=sub, not_before__gte=issued_at(iat)
    ).exists()


def revocation_window() -> timedelta:
    """Return how long a revocation matters: the longest access token's life.

    A token issued before ``not_before`` has expired (leeway included) once
    this much time has passed since ``not_before``; services allow the same
    leeway again, hence twice.
    """
    leeway = api_settings.LEEWAY
    leeway = leeway if isinstance(leeway, timedelta) else timedelta(seconds=leeway)
    return api_settings.ACCESS_TOKEN_LIFETIME + 2 * leeway


def subject_revocations_since(*, since: datetime, now: datetime) -> list[tuple]:
    """Return ``(sub, not_before)`` of revocations after ``since`` that still matter.

    Only those newer than ``now`` minus ``revocation_window()`` are returned.
    """
    floor = max(since, now - revocation_window())
    return list(
        SubjectRevocation.objects.filter(not_before__gt=floor)
        .order_by("not_before")
        .values_list("sub", "not_before")
    )


def subject_revocation_times(*, now: datetime) -> dict[str, float]:
    """Return ``{sub: not_before epoch seconds}`` of the revocations that matter."""
    return {
        sub: not_before.timestamp()
        for sub, not_before in SubjectRevocation.objects.filter(
            not_before__gt=now - revocation_window()
        ).values_list("sub", "not_before")
    }


def token_revocations_since(*, since: datetime, now: datetime) -> list[tuple]:
    """Return ``(jti, exp)`` of access tokens revoked after ``since``, unexpired.

    Oldest revocation first; a token whose ``exp`` has passed is left out.
    """
    return list(
        TokenRevocation.objects.filter(revoked_at__gt=since, exp__gt=now)
        .order_by("revoked_at")
        .values_list("jti", "exp")
    )


def revoked_token_ids(*, now: datetime) -> dict[str, float]:
    """Return ``{jti: exp epoch seconds}`` of revoked tokens not yet expired.

    Tokens within the leeway after their ``exp`` are kept: a verifier still
    accepts them then.
    """
    leeway = api_settings.LEEWAY
    leeway = leeway if isinstance(leeway, timedelta) else timedelta(seconds=leeway)
    return {
        jti: exp.timestamp()
        for jti, exp in TokenRevocation.objects.filter(
            exp__gt=now - 2 * leeway
        ).values_list("jti", "exp")
    }


def token_is_revoked(*, jti: str) -> bool:
    """Return True if the access token ``jti`` was revoked (one query)."""
    return TokenRevocation.objects.filter(jti=jti).exists()
