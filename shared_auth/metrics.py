"""Prometheus metrics of shared_auth: token rejections, JWKS and revocation freshness.

``prometheus_client`` is optional: without it every helper here does nothing,
so shared_auth works in a project that exposes no metrics. With it, the
metrics live in the default registry (and, under gunicorn, in its
multiprocess files: docs/observability.md). Label values come from fixed sets
only; anything else is counted as ``other``.
"""

from __future__ import annotations

from typing import Any

import jwt

try:
    from prometheus_client import Counter, Gauge
except ImportError:  # pragma: no cover - exercised by tests/shared_auth via a stub
    Counter = Gauge = None  # type: ignore[assignment,misc]

# Why an access token was refused (the ``reason`` label).
REJECTION_REASONS = (
    "expired",
    "invalid_signature",
    "revoked",
    "insufficient_scope",
    "unknown_key",
    "invalid_claims",
    "malformed",
    "other",
)
FETCH_OUTCOMES = ("success", "unusable", "error")

# PyJWT's errors for a well-formed token whose claims do not match.
_CLAIM_ERRORS = (
    jwt.InvalidAudienceError,
    jwt.InvalidIssuerError,
    jwt.MissingRequiredClaimError,
    jwt.ImmatureSignatureError,
    jwt.InvalidIssuedAtError,
)
_REASON_BY_CODE = {
    "token_expired": "expired",
    "token_revoked": "revoked",
    "bad_authorization_header": "malformed",
    "insufficient_scope": "insufficient_scope",
}

if Counter is not None:
    REJECTIONS: Any = Counter(
        "access_token_rejections_total",
        "Access tokens refused, by reason.",
        ["reason"],
    )
    JWKS_FETCHES: Any = Counter(
        "shared_auth_jwks_fetches_total",
        "Fetches of the gateway's JWKS by this process, by outcome.",
        ["outcome"],
    )
    REVOCATION_FETCHES: Any = Counter(
        "shared_auth_revocation_fetches_total",
        "Fetches of the gateway's revocation feed by this process, by outcome.",
        ["outcome"],
    )
    # Timestamps rather than ages: an age would be stale between scrapes. The
    # freshest a live worker holds (age: time() - value).
    JWKS_FETCHED_AT: Any = Gauge(
        "shared_auth_jwks_keys_fetched_timestamp_seconds",
        "When the signing keys held were fetched (Unix time; 0: none yet).",
        multiprocess_mode="livemax",
    )
    REVOCATIONS_FETCHED_AT: Any = Gauge(
        "shared_auth_revocation_list_fetched_timestamp_seconds",
        "When the revocation list held was fetched (Unix time; 0: none yet).",
        multiprocess_mode="livemax",
    )
    # Every series exists from the start (a rate() of a new series misses its
    # first increments, and dashboards show 0 rather than "no data").
    for _reason in REJECTION_REASONS:
        REJECTIONS.labels(_reason)
    for _outcome in FETCH_OUTCOMES:
        JWKS_FETCHES.labels(_outcome)
        REVOCATION_FETCHES.labels(_outcome)
else:  # pragma: no cover
    REJECTIONS = JWKS_FETCHES = REVOCATION_FETCHES = None
    JWKS_FETCHED_AT = REVOCATIONS_FETCHED_AT = None


def _bounded(value: str, allowed: tuple[str, ...]) -> str:
    """Return ``value`` if allowed, else the last allowed value (the catch-all)."""
    return value if value in allowed else allowed[-1]


def record_rejection(reason: str) -> None:
    """Count one refused access token (``reason`` from ``REJECTION_REASONS``)."""
    if REJECTIONS is not None:
        REJECTIONS.labels(_bounded(reason, REJECTION_REASONS)).inc()


def rejection_reason(exc: Exception) -> str:
    """Return the ``reason`` label for an ``AuthenticationFailed`` (or similar).

    From its code (expired, revoked, a malformed header), else from the error
    it was raised from (PyJWT's, or ``shared_auth.jwks.UnknownKey``).
    """
    get_codes = getattr(exc, "get_codes", None)
    code = get_codes() if get_codes is not None else None
    if isinstance(code, str) and code in _REASON_BY_CODE:
        return _REASON_BY_CODE[code]
    cause = exc.__cause__
    if isinstance(cause, jwt.InvalidSignatureError):
        return "invalid_signature"
    if isinstance(cause, _CLAIM_ERRORS):
        return "invalid_claims"
    if type(cause).__name__ == "UnknownKey":
        return "unknown_key"
    if isinstance(cause, jwt.DecodeError | ValueError | TypeError):
        return "malformed"
    return "other"


def record_jwks_fetch(outcome: str) -> None:
    """Count one JWKS fetch attempt (``success``, ``unusable`` or ``error``)."""
    if JWKS_FETCHES is not None:
        JWKS_FETCHES.labels(_bounded(outcome, FETCH_OUTCOMES)).inc()


def record_revocation_fetch(outcome: str) -> None:
    """Count one revocation feed fetch attempt (``success``, ``error``, ...)."""
    if REVOCATION_FETCHES is not None:
        REVOCATION_FETCHES.labels(_bounded(outcome, FETCH_OUTCOMES)).inc()


def set_jwks_fetched_at(timestamp: float) -> None:
    """Record when the keys this process now holds were fetched."""
    if JWKS_FETCHED_AT is not None:
        JWKS_FETCHED_AT.set(timestamp)


def set_revocations_fetched_at(timestamp: float) -> None:
    """Record when the revocation list this process now holds was fetched."""
    if REVOCATIONS_FETCHED_AT is not None:
        REVOCATIONS_FETCHED_AT.set(timestamp)
