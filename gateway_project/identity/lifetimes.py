"""The leeway of the gateway's tokens, as a ``timedelta`` whichever way it is set.

simplejwt's ``LEEWAY`` takes seconds or a ``timedelta``; ``shared_auth.conf``'s
``as_seconds`` reads either, and the gateway computes with a ``timedelta``.
"""

from datetime import timedelta

from rest_framework_simplejwt.settings import api_settings

from shared_auth.conf import as_seconds


def leeway() -> timedelta:
    """Return simplejwt's ``LEEWAY``: how long past ``exp`` a token is accepted."""
    return timedelta(seconds=as_seconds(api_settings.LEEWAY))
