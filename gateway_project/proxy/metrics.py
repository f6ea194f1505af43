"""Prometheus metrics of the proxy: requests, the upstream's time and the gateway's.

Per proxied request (``observe``): ``gateway_requests_total{upstream,status}``,
``gateway_upstream_duration_seconds{upstream}`` (from sending the request to
the service's response headers, or its failure) and
``gateway_own_duration_seconds{upstream}`` (the proxy view's time to the
response headers, less the former). Gateway-made 502/503/504 answers count in
``gateway_upstream_errors_total{upstream,kind}``. ``upstream`` is the route's
last prefix segment (``orders``), ``none`` when nothing was routed: labels are
bounded by the routes table and HTTP's status codes.
"""

from __future__ import annotations

import functools
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from prometheus_client import Counter, Histogram

NO_UPSTREAM = "none"
# Upstream error kinds: the code of the gateway's own 502/503/504 answer.
UPSTREAM_ERROR_KINDS = (
    "upstream_refused",
    "upstream_unavailable",
    "upstream_busy",
    "upstream_timeout",
    "bad_gateway",
)
# Seconds; the gateway's own time is sub-millisecond when all is well.
_OWN_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
_UPSTREAM_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip

REQUESTS = Counter(
    "gateway_requests_total",
    "Requests the proxy answered, by upstream and status code.",
    ["upstream", "status"],
)
UPSTREAM_DURATION = Histogram(
    "gateway_upstream_duration_seconds",
    "Time spent waiting on the service, to its response headers.",
    ["upstream"],
    buckets=_UPSTREAM_BUCKETS,
)
OWN_DURATION = Histogram(
    "gateway_own_duration_seconds",
    "The gateway's own time per proxied request, the upstream's apart.",
    ["upstream"],
    buckets=_OWN_BUCKETS,
)
UPSTREAM_ERRORS = Counter(
    "gateway_upstream_errors_total",
    "502/503/504 answers the gateway made itself, by upstream and kind.",
    ["upstream", "kind"],
)


@functools.cache
def enabled() -> bool:
    """Return ``settings.METRICS_ENABLED`` (cached; cleared when it changes)."""
    return bool(getattr(settings, "METRICS_ENABLED", True))


def _reset(*, setting: str, **kwargs: Any) -> None:
    if setting == "METRICS_ENABLED":
        enabled.cache_clear()


setting_changed.connect(_reset)


@functools.cache
def upstream_label(prefix: str | None) -> str:
    """Return the label of the route ``prefix`` (``/api/orders/`` -> ``orders``).

    On a route's first use its error series are made (at 0), so that they
    exist before the first error.
    """
    if not prefix:
        return NO_UPSTREAM
    label = prefix.strip("/").rsplit("/", 1)[-1] or NO_UPSTREAM
    for kind in UPSTREAM_ERROR_KINDS:
        UPSTREAM_ERRORS.labels(label, kind)
    return label


# Label children by (metric name, label values): ``labels()`` takes a lock and
# builds keys on every call, a third of the cost of recording a request.
_children: dict[tuple[str, ...], Any] = {}


def _child(metric: Any, *values: str) -> Any:
    key = (metric._name, *values)
    child = _children.get(key)
    if child is None:
        child = _children.setdefault(key, metric.labels(*values))
    return child


def observe(
    *,
    prefix: str | None,
    status: int,
    total_seconds: float,
    upstream_seconds: float | None,
) -> None:
    """Record one request the proxy answered."""
    if not enabled():
        return
    label = upstream_label(prefix)
    _child(REQUESTS, label, str(status)).inc()
    own = total_seconds
    if upstream_seconds is not None:
        _child(UPSTREAM_DURATION, label).observe(upstream_seconds)
        own -= upstream_seconds
    _child(OWN_DURATION, label).observe(max(own, 0.0))


def record_upstream_error(*, prefix: str | None, kind: str) -> None:
    """Count one 502/503/504 the gateway answered itself (``kind``: its code)."""
    if not enabled():
        return
    if kind not in UPSTREAM_ERROR_KINDS:
        kind = "bad_gateway"
    UPSTREAM_ERRORS.labels(upstream_label(prefix), kind).inc()
