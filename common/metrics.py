"""``GET /metrics``: Prometheus text of every worker of this process group.

Answered by ``MetricsEndpointMiddleware`` ahead of URL routing, host validation
and the gateway's proxy, so it is never an ``/api/`` route and a scraper may
address a pod by its IP. Who may read it (docs/observability.md):

- ``METRICS_TOKEN`` set: callers sending ``Authorization: Bearer <token>``
  (compared in constant time), from anywhere;
- unset: loopback callers only, judged by the TCP peer (``REMOTE_ADDR``), never
  by ``X-Forwarded-For``.

Under gunicorn the workers write their samples to files in
``PROMETHEUS_MULTIPROC_DIR`` (``common.gunicorn`` sets and cleans it) and the
answer adds them up; without it (runserver, tests) it is this process's.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable
from ipaddress import ip_address

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse

PATH = "/metrics"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def is_loopback(address: str) -> bool:
    """Return True if ``address`` (an IP, possibly IPv4-mapped IPv6) is loopback."""
    try:
        peer = ip_address(address)
    except ValueError:
        return False
    mapped = getattr(peer, "ipv4_mapped", None)
    return (mapped or peer).is_loopback


def _bearer(request: HttpRequest) -> bytes:
    parts = request.META.get("HTTP_AUTHORIZATION", "").split()
    if len(parts) == 2 and parts[0].lower() == "bearer":
        return parts[1].encode()
    return b""


def is_allowed(request: HttpRequest) -> bool:
    """Return True if ``request`` may read the metrics (see the module docstring)."""
    token = getattr(settings, "METRICS_TOKEN", "")
    if token:
        return hmac.compare_digest(_bearer(request), token.encode())
    return is_loopback(request.META.get("REMOTE_ADDR", ""))


def exposition() -> tuple[bytes, str]:
    """Return the Prometheus text of every worker (or this process) and its type."""
    from prometheus_client import (
        CONTENT_TYPE_LATEST,
        REGISTRY,
        CollectorRegistry,
        generate_latest,
    )

    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return generate_latest(registry), CONTENT_TYPE_LATEST


def metrics_response(request: HttpRequest) -> HttpResponseBase:
    """Return the metrics, 401 without the token (if one is set), 403 else, 405."""
    if request.method not in ("GET", "HEAD"):
        return JsonResponse(
            {"detail": "Method not allowed.", "code": "method_not_allowed"},
            status=405,
            headers={"Allow": "GET, HEAD"},
        )
    if not is_allowed(request):
        if getattr(settings, "METRICS_TOKEN", ""):
            return JsonResponse(
                {"detail": "Invalid metrics credential.", "code": "not_authenticated"},
                status=401,
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
        return JsonResponse(
            {
                "detail": "Metrics are served to loopback callers only.",
                "code": "permission_denied",
            },
            status=403,
        )
    body, content_type = exposition()
    response = HttpResponse(body, content_type=content_type)
    response["Cache-Control"] = "no-store"
    return response


class MetricsEndpointMiddleware:
    """Answer ``GET /metrics`` before anything else runs (when metrics are on).

    Goes right after ``TrustedForwardedMiddleware`` (which never changes
    ``REMOTE_ADDR``). With ``METRICS_ENABLED`` off the
    path is left to the URLconf (a 404).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.path_info == PATH and getattr(settings, "METRICS_ENABLED", True):
            return metrics_response(request)
        return self.get_response(request)
