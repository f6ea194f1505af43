"""The ``SHARED_AUTH`` setting, read lazily through a DRF ``APISettings`` object.

Nothing is read at import time: the first attribute access reads
``settings.SHARED_AUTH``, and any change to it (or to ``JWT_ISSUER`` /
``JWT_JWKS_URL``), for example through ``override_settings`` or pytest-django's
``settings`` fixture, clears the cached values. Every key, its default and its
meaning: shared_auth/README.md ("Settings"), the reference docs/configuration.md
points to; the token exchange keys are in docs/delegation.md ("Settings").
"""

from datetime import timedelta
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


class CheckedSettings(APISettings):
    """An ``APISettings`` that checks each value before DRF caches it.

    ``error(attr, value)`` says why a value is bad; such a value raises
    ``ImproperlyConfigured`` on every read (the project's system check reports
    it at start-up, under its own id).
    """

    def raw(self, attr: str) -> Any:
        """Return the configured value of ``attr`` (or its default), unchecked."""
        return self.user_settings.get(attr, self.defaults[attr])

    def error(self, attr: str, value: Any) -> str | None:
        """Return why ``value`` is not a valid ``attr``, else None."""
        return None

    def __getattr__(self, attr: str) -> Any:
        if attr in self.defaults:
            error = self.error(attr, self.raw(attr))
            if error is not None:
                raise ImproperlyConfigured(error)
        return super().__getattr__(attr)


class SharedAuthSettings(CheckedSettings):
    """``settings.SHARED_AUTH`` with defaults, read on first use.

    ``ISSUER``, ``JWKS_URL``, ``REVOCATION_URL`` and ``REVOCATION_TOKEN`` fall
    back to the project's ``JWT_ISSUER``, ``JWT_JWKS_URL``,
    ``REVOCATION_FEED_URL`` and ``REVOCATION_FEED_TOKEN``. A missing
    ``AUDIENCE`` or a symmetric algorithm is reported at start-up by the
    system checks ``shared_auth.E001``/``E002`` (``shared_auth.checks``), and
    raises ``ImproperlyConfigured`` on every read (a process started without
    the checks never verifies a token with it).
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

    def error(self, attr: str, value: Any) -> str | None:
        """Return ``setting_error(attr, value)``."""
        return setting_error(attr, value)


REQUIRED = ("AUDIENCE", "ISSUER", "JWKS_URL", "REVOCATION_URL", "TOKEN_URL")


def as_seconds(value: float | timedelta | None) -> float:
    """Return a duration setting in seconds, whichever way it is set.

    ``LEEWAY`` (shared_auth's and simplejwt's) takes seconds or a ``timedelta``,
    as PyJWT's ``leeway`` does; None is no time.
    """
    return value.total_seconds() if isinstance(value, timedelta) else value or 0


def setting_error(attr: str, value: Any) -> str | None:
    """Return why ``value`` is not a valid ``SHARED_AUTH[attr]``, else None."""
    if attr in REQUIRED and not value:
        return f"SHARED_AUTH['{attr}'] must be set."
    if attr == "ALGORITHMS" and (not value or FORBIDDEN_ALGORITHMS.intersection(value)):
        return "SHARED_AUTH['ALGORITHMS'] must list asymmetric algorithms only."
    return None


auth_settings = SharedAuthSettings()


def reload_auth_settings(*, setting: str, **kwargs: Any) -> None:
    """Drop the cached values when a setting shared_auth reads changes."""
    if setting in _WATCHED:
        auth_settings.reload()


setting_changed.connect(reload_auth_settings)
