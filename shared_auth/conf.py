"""The ``SHARED_AUTH`` setting, read lazily through a DRF ``APISettings`` object.

Nothing is read at import time: the first attribute access reads
``settings.SHARED_AUTH``, and any change to it (or to ``JWT_ISSUER`` /
``JWT_JWKS_URL``), for example through ``override_settings`` or pytest-django's
``settings`` fixture, clears the cached values.

Keys (all optional except ``AUDIENCE``):

``AUDIENCE``
    This service's own name; a token's ``aud`` must contain it. Required.
``ISSUER``
    The expected ``iss``; default ``settings.JWT_ISSUER``.
``JWKS_URL``
    Where the public keys are published; default ``settings.JWT_JWKS_URL``.
``ALGORITHMS``
    Allow-list of asymmetric algorithms (never ``HS*`` or ``none``).
``LEEWAY``
    Seconds of clock skew allowed on ``exp``/``nbf``/``iat``.
``ACCESS_TOKEN_TYPES``
    The header ``typ`` values of an access token (RFC 9068 section 2.1),
    compared case-insensitively; any other ``typ`` (or none) is refused.
``TOKEN_TYPE_CLAIM`` / ``ACCESS_TOKEN_TYPE``
    The claim naming the token type and the value an access token carries
    (simplejwt's ``token_type`` / ``access``), checked when the claim is there.
``MAX_TOKEN_LENGTH``
    Longer bearer tokens are refused before any parsing.
``JWKS_CACHE_TTL``
    Seconds the key set is used before it is refreshed.
``JWKS_MIN_REFETCH_INTERVAL``
    At most one fetch per this many seconds, whatever triggers it (unknown
    ``kid``, expiry, a failed fetch).
``JWKS_TIMEOUT`` / ``SESSION_TIMEOUT``
    ``(connect, read)`` timeouts in seconds for the JWKS fetch and for the
    token-propagating session.
``CACHE_ALIAS``
    The Django cache holding the key set and the revocation list (shared by
    replicas if it is Redis).
``REVOCATION_URL``
    The gateway's revocation feed; default ``settings.REVOCATION_FEED_URL``,
    else ``<ISSUER>/auth/revocations/``.
``REVOCATION_TOKEN``
    The feed's credential; default ``settings.REVOCATION_FEED_TOKEN``.
``REVOCATION_INTERVAL``
    Seconds between two fetches of the feed (at most one per interval, shared
    by the replicas of one cache). A revocation reaches the service within
    about this long.
``REVOCATION_TIMEOUT``
    ``(connect, read)`` timeouts in seconds of one fetch.
``REVOCATION_FAIL_CLOSED`` / ``REVOCATION_MAX_AGE``
    Off (default): with the feed down, keep using the last list (and log a
    warning). On: answer 503 while the list is older than ``MAX_AGE`` seconds.
``TOKEN_URL``
    The gateway's OAuth token endpoint, where ``ServiceSession`` exchanges the
    caller's token (RFC 8693); default ``<ISSUER>/auth/oauth/token/``.
``CLIENT_ID`` / ``CLIENT_SECRET``
    This service's OAuth client credentials (HTTP Basic at ``TOKEN_URL``).
    Without them no call to another service carries a caller's identity.
``EXCHANGE_TIMEOUT``
    ``(connect, read)`` timeouts in seconds of one exchange.
``EXCHANGE_CACHE_SIZE`` / ``EXCHANGE_EXPIRY_MARGIN``
    How many exchanged tokens a process keeps (per subject token, audience
    and scope), and how many seconds before its expiry one is exchanged anew.
"""

from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from rest_framework.settings import APISettings

DEFAULTS: dict[str, Any] = {
    "AUDIENCE": None,
    "ISSUER": None,
    "JWKS_URL": None,
    "ALGORITHMS": ("RS256", "ES256", "EdDSA"),
    "LEEWAY": 5,
    "ACCESS_TOKEN_TYPES": ("at+jwt", "application/at+jwt"),
    "TOKEN_TYPE_CLAIM": "token_type",
    "ACCESS_TOKEN_TYPE": "access",
    "MAX_TOKEN_LENGTH": 8192,
    "JWKS_CACHE_TTL": 300,
    "JWKS_MIN_REFETCH_INTERVAL": 1,
    "JWKS_TIMEOUT": (2.0, 3.0),
    "SESSION_TIMEOUT": (3.05, 10.0),
    "CACHE_ALIAS": "default",
    "REVOCATION_URL": None,
    "REVOCATION_TOKEN": None,
    "REVOCATION_INTERVAL": 2.0,
    "REVOCATION_TIMEOUT": (0.5, 1.0),
    "REVOCATION_FAIL_CLOSED": False,
    "REVOCATION_MAX_AGE": 5.0,
    "TOKEN_URL": None,
    "CLIENT_ID": None,
    "CLIENT_SECRET": None,
    "EXCHANGE_TIMEOUT": (1.0, 3.0),
    "EXCHANGE_CACHE_SIZE": 1024,
    "EXCHANGE_EXPIRY_MARGIN": 10.0,
}

# Never allowed, whatever ALGORITHMS says: symmetric and unsigned.
FORBIDDEN_ALGORITHMS = frozenset({"none", "HS256", "HS384", "HS512"})

# Project settings whose change must drop the cached values too.
_WATCHED = {
    "SHARED_AUTH",
    "JWT_ISSUER",
    "JWT_JWKS_URL",
    "REVOCATION_FEED_URL",
    "REVOCATION_FEED_TOKEN",
}


class SharedAuthSettings(APISettings):
    """``settings.SHARED_AUTH`` with defaults, read on first use.

    ``ISSUER``, ``JWKS_URL``, ``REVOCATION_URL`` and ``REVOCATION_TOKEN`` fall
    back to the project's ``JWT_ISSUER``, ``JWT_JWKS_URL``,
    ``REVOCATION_FEED_URL`` and ``REVOCATION_FEED_TOKEN``; a missing
    ``AUDIENCE`` or a symmetric algorithm raises ``ImproperlyConfigured`` when
    first read.
    """

    def __init__(self) -> None:
        super().__init__(user_settings=None, defaults=DEFAULTS, import_strings=())

    @property
    def user_settings(self) -> dict[str, Any]:
        """Return the project's overrides, the issuer and JWKS URL included."""
        if not hasattr(self, "_user_settings"):
            merged = {
                "ISSUER": getattr(settings, "JWT_ISSUER", None),
                "JWKS_URL": getattr(settings, "JWT_JWKS_URL", None),
                "REVOCATION_URL": getattr(settings, "REVOCATION_FEED_URL", None),
                "REVOCATION_TOKEN": getattr(settings, "REVOCATION_FEED_TOKEN", None),
                **getattr(settings, "SHARED_AUTH", {}),
            }
            issuer = (merged["ISSUER"] or "").rstrip("/")
            if not merged["REVOCATION_URL"] and issuer:
                merged["REVOCATION_URL"] = f"{issuer}/auth/revocations/"
            if not merged.get("TOKEN_URL") and issuer:
                merged["TOKEN_URL"] = f"{issuer}/auth/oauth/token/"
            self._user_settings = merged
        return self._user_settings

    def __getattr__(self, attr: str) -> Any:
        value = super().__getattr__(attr)
        try:
            _check(attr, value)
        except ImproperlyConfigured:
            delattr(self, attr)  # do not cache a bad value: raise on every read
            self._cached_attrs.discard(attr)
            raise
        return value


def _check(attr: str, value: Any) -> None:
    """Raise ``ImproperlyConfigured`` if ``value`` is not valid for ``attr``."""
    required = ("AUDIENCE", "ISSUER", "JWKS_URL", "REVOCATION_URL", "TOKEN_URL")
    if attr in required and not value:
        raise ImproperlyConfigured(f"SHARED_AUTH['{attr}'] must be set.")
    if attr == "ALGORITHMS" and (not value or FORBIDDEN_ALGORITHMS.intersection(value)):
        raise ImproperlyConfigured(
            "SHARED_AUTH['ALGORITHMS'] must list asymmetric algorithms only."
        )


auth_settings = SharedAuthSettings()


def reload_auth_settings(*, setting: str, **kwargs: Any) -> None:
    """Drop the cached values when a setting shared_auth reads changes."""
    if setting in _WATCHED:
        auth_settings.reload()


setting_changed.connect(reload_auth_settings)
