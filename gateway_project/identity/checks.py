"""System checks of the gateway's token settings (registered in
``IdentityConfig.ready``).

The ``JWT_*`` settings stay flat, one per environment variable (the shape every
project shares for ``JWT_ISSUER``/``JWT_JWKS_URL``); the lifetimes and the
leeway are simplejwt's ``SIMPLE_JWT``. All are read where they are used, never
at import time, and checked here (docs/configuration.md documents each one):

``identity.E001``: ``JWT_SIGNING_ALGORITHM`` is not one the key store can make
(``RS256``, ``ES256``, ``EdDSA``).

``identity.E002``: ``JWT_AUDIENCE`` is empty or holds something else than
non-empty names.

``identity.E003``: ``SIMPLE_JWT``'s ``ACCESS_TOKEN_LIFETIME`` or
``REFRESH_TOKEN_LIFETIME`` is not a positive ``timedelta``, or ``LEEWAY`` is
negative (``JWT_ACCESS_TOKEN_LIFETIME``, ``JWT_REFRESH_TOKEN_LIFETIME``).

``identity.E004``: ``JWKS_MAX_AGE`` is not a whole number of seconds, 0 or more.
"""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core import checks
from rest_framework_simplejwt import settings as simplejwt_settings

from shared_auth.conf import as_seconds


def check_signing_algorithm(**kwargs: Any) -> list[checks.CheckMessage]:
    """Refuse to start with a signing algorithm the key store cannot make."""
    from gateway_project.identity.keys import SUPPORTED_ALGORITHMS

    if settings.JWT_SIGNING_ALGORITHM in SUPPORTED_ALGORITHMS:
        return []
    return [
        checks.Error(
            f"JWT_SIGNING_ALGORITHM must be one of {', '.join(SUPPORTED_ALGORITHMS)}.",
            id="identity.E001",
        )
    ]


def check_audience(**kwargs: Any) -> list[checks.CheckMessage]:
    """Return ``identity.E002`` unless ``JWT_AUDIENCE`` lists non-empty names."""
    audience = settings.JWT_AUDIENCE
    if (
        isinstance(audience, list | tuple)
        and audience
        and all(isinstance(name, str) and name for name in audience)
    ):
        return []
    return [
        checks.Error(
            "JWT_AUDIENCE must list the audiences of a login token.",
            hint="By default every service of common/services.py.",
            id="identity.E002",
        )
    ]


def check_lifetimes(**kwargs: Any) -> list[checks.CheckMessage]:
    """Return ``identity.E003`` per lifetime that is not a positive timedelta,
    and for a negative ``LEEWAY``."""
    # Looked up now: simplejwt rebinds api_settings when SIMPLE_JWT changes.
    api_settings = simplejwt_settings.api_settings
    errors = []
    for name in ("ACCESS_TOKEN_LIFETIME", "REFRESH_TOKEN_LIFETIME"):
        lifetime = getattr(api_settings, name)
        if not (isinstance(lifetime, timedelta) and lifetime > timedelta(0)):
            errors.append(
                checks.Error(
                    f"SIMPLE_JWT['{name}'] must be a positive timedelta.",
                    hint=f"Set JWT_{name} to a number of seconds above 0.",
                    id="identity.E003",
                )
            )
    try:
        negative = as_seconds(api_settings.LEEWAY) < 0
    except TypeError:
        negative = True
    if negative:
        errors.append(
            checks.Error(
                "SIMPLE_JWT['LEEWAY'] must be seconds or a timedelta, 0 or more.",
                id="identity.E003",
            )
        )
    return errors


def check_jwks_max_age(**kwargs: Any) -> list[checks.CheckMessage]:
    """Return ``identity.E004`` unless ``JWKS_MAX_AGE`` is an int, 0 or more."""
    max_age = settings.JWKS_MAX_AGE
    if isinstance(max_age, int) and not isinstance(max_age, bool) and max_age >= 0:
        return []
    return [
        checks.Error(
            "JWKS_MAX_AGE must be a whole number of seconds, 0 or more.",
            id="identity.E004",
        )
    ]
