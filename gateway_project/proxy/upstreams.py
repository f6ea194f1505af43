"""The routes table (``settings.GATEWAY_PROXY``) and one connection pool per upstream.

Read on first use and kept for the life of the process (each gunicorn worker
has its own pools); a change of the setting in tests drops them.

A pooled connection idle for ``POOL_MAX_IDLE`` seconds is closed when next
taken, before the service's own keep-alive (gunicorn ``keepalive``, 5 s) can
close it under a request: the race that otherwise ends in a 502.
"""

from __future__ import annotations

import functools
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import urllib3
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

from gateway_project.proxy.connection import ProxyHTTPConnection, ProxyHTTPSConnection

DEFAULTS: dict[str, Any] = {
    "ROUTES": {},
    "CONNECT_TIMEOUT": 3.0,
    "READ_TIMEOUT": 30.0,
    "POOL_TIMEOUT": 3.0,
    "POOL_SIZE": 4,
    "MAX_BODY_SIZE": 10 * 1024 * 1024,
    # Below the services' keep-alive (common/gunicorn.py ``keepalive``).
    "POOL_MAX_IDLE": 2.0,
}


def _monotonic() -> float:
    """Return the clock idle times are measured with (a seam for tests)."""
    return time.monotonic()


class _IdleLimit:
    """A pool mixin: a connection idle ``max_idle`` seconds or more is reopened.

    ``_get_conn`` and ``_put_conn`` are urllib3's own hooks for taking and
    returning a connection; urllib3 itself only drops a connection whose close
    has already arrived. ``urlopen_fresh`` sends on a new connection.
    """

    max_idle: float = DEFAULTS["POOL_MAX_IDLE"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._fresh = threading.local()

    def urlopen_fresh(self, method: str, url: str, **kwargs: Any) -> Any:
        """Return ``urlopen(method, url, **kwargs)`` sent on a new connection."""
        self._fresh.active = True
        try:
            return self.urlopen(method, url, **kwargs)  # type: ignore[attr-defined]
        finally:
            self._fresh.active = False

    def _get_conn(self, timeout: float | None = None) -> Any:
        conn = super()._get_conn(timeout)  # type: ignore[misc]
        idle_since = getattr(conn, "idle_since", None)
        if getattr(self._fresh, "active", False) or (
            idle_since is not None and _monotonic() - idle_since >= self.max_idle
        ):
            conn.close()  # connects again on its next request
        return conn

    def _put_conn(self, conn: Any) -> None:
        if conn is not None:
            conn.idle_since = _monotonic()
        super()._put_conn(conn)  # type: ignore[misc]


class IdleLimitedHTTPPool(_IdleLimit, urllib3.HTTPConnectionPool):
    """An HTTP pool whose connections idle out after ``max_idle`` seconds."""

    ConnectionCls = ProxyHTTPConnection


class IdleLimitedHTTPSPool(_IdleLimit, urllib3.HTTPSConnectionPool):
    """An HTTPS pool whose connections idle out after ``max_idle`` seconds."""

    ConnectionCls = ProxyHTTPSConnection


IdleLimitedPool = IdleLimitedHTTPPool | IdleLimitedHTTPSPool


@dataclass(frozen=True)
class Upstream:
    """One route: requests whose path starts with ``prefix`` go to ``pool``.

    ``name`` (the base URL) is what the log lines show; ``base_path`` is the
    base URL's own path, put before the forwarded path (empty by default).
    """

    prefix: str
    name: str
    base_path: str
    pool: IdleLimitedPool


@dataclass(frozen=True)
class ProxyRoutes:
    """The proxy's routes (upstreams sorted longest prefix first) and limits."""

    upstreams: tuple[Upstream, ...]
    timeout: urllib3.Timeout
    pool_timeout: float
    max_body_size: int

    def route(self, path: str) -> Upstream | None:
        """Return the upstream whose prefix ``path`` starts with, if any."""
        for upstream in self.upstreams:
            if path.startswith(upstream.prefix):
                return upstream
        return None


def _upstream(prefix: str, base_url: str, options: dict[str, Any]) -> Upstream:
    if not (prefix.startswith("/") and prefix.endswith("/")):
        raise ImproperlyConfigured(
            f"GATEWAY_PROXY['ROUTES'] prefix {prefix!r} must start and end with '/'."
        )
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ImproperlyConfigured(
            f"GATEWAY_PROXY['ROUTES'] upstream {base_url!r} is not an http(s) URL."
        )
    https = parts.scheme == "https"
    pool = (IdleLimitedHTTPSPool if https else IdleLimitedHTTPPool)(
        parts.hostname,
        parts.port or (443 if https else 80),
        maxsize=options["POOL_SIZE"],
        block=True,
        retries=False,
    )
    pool.max_idle = float(options["POOL_MAX_IDLE"])
    return Upstream(prefix, base_url, parts.path.rstrip("/"), pool)


@functools.cache
def proxy_config() -> ProxyRoutes:
    """Return the proxy configuration, built from the settings on first call."""
    options = {**DEFAULTS, **getattr(settings, "GATEWAY_PROXY", {})}
    routes = sorted(options["ROUTES"].items(), key=lambda item: -len(item[0]))
    return ProxyRoutes(
        upstreams=tuple(_upstream(p, url, options) for p, url in routes),
        timeout=urllib3.Timeout(
            connect=options["CONNECT_TIMEOUT"], read=options["READ_TIMEOUT"]
        ),
        pool_timeout=options["POOL_TIMEOUT"],
        max_body_size=options["MAX_BODY_SIZE"],
    )


def _reset(*, setting: str, **kwargs: Any) -> None:
    if setting == "GATEWAY_PROXY" and proxy_config.cache_info().currsize:
        for upstream in proxy_config().upstreams:
            upstream.pool.close()
        proxy_config.cache_clear()


setting_changed.connect(_reset)
