"""System checks of shared_auth (registered in ``SharedAuthConfig.ready``).

``shared_auth.W001`` (``check --deploy``): with ``DEBUG`` off, the revocation
feed's credential is missing or is a per-process stand-in. A project may make
such a stand-in for local runs: it starts with ``INSECURE_TOKEN_PREFIX`` (as
Django's ``startproject`` keys start with ``django-insecure-``), so this check
can tell it from a credential the operator set.

``shared_auth.W002`` (``check --deploy``): likewise for the OAuth client secret
of a service that exchanges tokens (``SHARED_AUTH['CLIENT_ID']`` set): without
the operator's secret every call to another service answers 503.
"""

from typing import Any

from django.conf import settings
from django.core import checks

from shared_auth.conf import auth_settings

INSECURE_TOKEN_PREFIX = "insecure-local-"

W001 = checks.Warning(
    "The revocation feed credential (REVOCATION_FEED_TOKEN) is not set, so this "
    "process uses one of its own: the gateway's feed and the services do not "
    "share it, the feed refuses the services and revoked tokens stay accepted "
    "by the services until they expire.",
    hint="Set REVOCATION_FEED_TOKEN to the same random value in every project "
    "(in Kubernetes, from one Secret: README 'Production').",
    id="shared_auth.W001",
)


def check_revocation_token(**kwargs: Any) -> list[checks.CheckMessage]:
    """Return ``[W001]`` if ``DEBUG`` is off and the feed credential is not set.

    Not set: empty, or made locally (``INSECURE_TOKEN_PREFIX``).
    """
    if settings.DEBUG:
        return []
    token = auth_settings.REVOCATION_TOKEN or ""
    if token and not token.startswith(INSECURE_TOKEN_PREFIX):
        return []
    return [W001]


W002 = checks.Warning(
    "This service's OAuth client secret (SHARED_AUTH CLIENT_SECRET) is not set, "
    "or is one made locally: the gateway refuses its token exchanges and every "
    "call to another service answers 503.",
    hint="Set the client's secret (for the orders service ORDERS_CLIENT_SECRET) "
    "from the same Secret the gateway provisions the client with "
    "(docs/delegation.md).",
    id="shared_auth.W002",
)


def check_client_secret(**kwargs: Any) -> list[checks.CheckMessage]:
    """Return ``[W002]`` if ``DEBUG`` is off, a client is named and its secret
    is not set (empty, or made locally: ``INSECURE_TOKEN_PREFIX``)."""
    if settings.DEBUG or not auth_settings.CLIENT_ID:
        return []
    secret = auth_settings.CLIENT_SECRET or ""
    if secret and not secret.startswith(INSECURE_TOKEN_PREFIX):
        return []
    return [W002]
