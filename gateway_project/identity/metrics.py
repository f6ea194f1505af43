"""Prometheus metrics of the identity app: tokens issued, failed and throttled logins.

Labels come from fixed sets: an unknown grant type counts as ``other``, an
unknown login form as ``other``.
"""

from __future__ import annotations

from prometheus_client import Counter

# grant_type label values; RFC 8693's URN is counted as token_exchange.
GRANT_TYPES = (
    "password",
    "refresh_token",
    "session",
    "client_credentials",
    "token_exchange",
    "other",
)
_GRANT_ALIASES = {"urn:ietf:params:oauth:grant-type:token-exchange": "token_exchange"}
# Where a login was tried: POST /auth/token/, the admin's and the browsable
# API's login forms.
LOGIN_ENDPOINTS = ("token", "admin", "api_auth", "other")

TOKENS_ISSUED = Counter(
    "gateway_tokens_issued_total",
    "Access tokens issued, by grant type (session: minted at the edge).",
    ["grant_type"],
)
LOGIN_FAILURES = Counter(
    "gateway_login_failures_total",
    "Failed logins (wrong username or password), by login endpoint.",
    ["endpoint"],
)
LOGIN_THROTTLED = Counter(
    "gateway_login_throttled_total",
    "Logins refused with 429 (too many failures), by login endpoint.",
    ["endpoint"],
)
for _grant in GRANT_TYPES:
    TOKENS_ISSUED.labels(_grant)
for _endpoint in LOGIN_ENDPOINTS:
    LOGIN_FAILURES.labels(_endpoint)
    LOGIN_THROTTLED.labels(_endpoint)


def _bounded(value: str, allowed: tuple[str, ...]) -> str:
    return value if value in allowed else allowed[-1]


def tokens_issued(grant_type: str) -> None:
    """Count one access token issued through ``grant_type``."""
    grant_type = _GRANT_ALIASES.get(grant_type, grant_type)
    TOKENS_ISSUED.labels(_bounded(grant_type, GRANT_TYPES)).inc()


def login_failed(endpoint: str) -> None:
    """Count one failed login at ``endpoint`` (``token``, ``admin``, ``api_auth``)."""
    LOGIN_FAILURES.labels(_bounded(endpoint, LOGIN_ENDPOINTS)).inc()


def login_throttled(endpoint: str) -> None:
    """Count one login refused by the failed-login throttle at ``endpoint``."""
    LOGIN_THROTTLED.labels(_bounded(endpoint, LOGIN_ENDPOINTS)).inc()
