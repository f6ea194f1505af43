"""System checks of shared_auth (registered in ``SharedAuthConfig.ready``).

``shared_auth.W001`` (``check --deploy``): with ``DEBUG`` off, the revocation
feed's credential is missing or is a per-process stand-in. A project may make
such a stand-in for local runs: it starts with ``INSECURE_TOKEN_PREFIX`` (as
Django's ``startproject`` keys start with ``django-insecure-``), so this check
can tell it from a credential the operator set.
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
