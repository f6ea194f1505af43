"""Readiness of the gateway: its database and every upstream service."""

import logging

import requests
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse

logger = logging.getLogger(__name__)

READINESS_TIMEOUT = (1.0, 2.0)


def _database_ok() -> bool:
    try:
        connection.ensure_connection()
    except Exception:  # any driver error means "not ready"
        logger.warning("readyz: database unavailable", exc_info=True)
        return False
    return True


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
    """Return 200 when the database and every upstream answer, else 503 naming them."""
    checks = {
        "database": _database_ok(),
        **{name: _upstream_ok(url) for name, url in settings.SERVICE_URLS.items()},
    }
    down = sorted(name for name, ok in checks.items() if not ok)
    if down:
        return JsonResponse(
            {"detail": f"Not ready: {', '.join(down)} unavailable.", "down": down},
            status=503,
        )
    return JsonResponse({"status": "ready"})
