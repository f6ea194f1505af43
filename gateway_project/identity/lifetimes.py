"""The leeway of the gateway's tokens, as a ``timedelta`` whichever way it is set.

simplejwt's ``LEEWAY`` and shared_auth's ``LEEWAY`` take seconds or a
``timedelta`` (as PyJWT's ``leeway`` does); the gateway computes with one shape.
"""

from datetime import timedelta

from rest_framework_simplejwt.settings import api_settings


def as_timedelta(value: float | timedelta | None) -> timedelta:
    """Return ``value`` (seconds, a ``timedelta`` or None for none) as a timedelta."""
    return value if isinstance(value, timedelta) else timedelta(seconds=value or 0)


def leeway() -> timedelta:
    """Return simplejwt's ``LEEWAY``: how long past ``exp`` a token is accepted."""
    return as_timedelta(api_settings.LEEWAY)
