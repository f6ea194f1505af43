"""Readiness of the gateway: its database and every upstream service."""

import logging

import requests
from django.conf import settings
from django.http import HttpRequest, JsonResponse

from common.views import database_ok, draining_response

logger = logging.getLogger(__name__)

READINESS_TIMEOUT = (1.0, 2.0)


def _upstream_ok(base_url: str) -> bool:
    try:
        response = requests.get(
            f"{base_url.rstrip('/')}/healthz",
            timeout=READINESS_TIMEOUT,
            allow_redirects=False,
        )
    except requests.RequestException:
        logger.warning("readyz: upstream %s unavailable", base_url)
        return False
    return response.status_code == 200


def readyz(request: HttpRequest) -> JsonResponse:
    """Return 200 when the database and every upstream answer, else 503 naming
    them; 503 at once while draining (``common.draining``)."""
    draining = draining_response()
    if draining is not None:
        return draining
    checks = {
        "database": database_ok(),
        **{name: _upstream_ok(url) for name, url in settings.SERVICE_URLS.items()},
    }
    down = sorted(name for name, ok in checks.items() if not ok)
    if down:
        return JsonResponse(
            {"detail": f"Not ready: {', '.join(down)} unavailable.", "down": down},
            status=503,
        )
    return JsonResponse({"status": "ready"})
