"""The routes table (``GATEWAY_PROXY``, ``proxy.conf``) and one pool per upstream.

Built on first use and kept for the life of the process (each gunicorn worker
has its own pools); a change of the setting in tests drops them.

A pooled connection idle for ``POOL_MAX_IDLE`` seconds is closed when next
taken, before the service's own keep-alive (gunicorn ``keepalive``, 5 s) can
close it under a request: the race that otherwise ends in a 502.
"""

from __future__ import annotations

import functools
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.core.signals import setting_changed

from gateway_project.proxy.conf import proxy_settings
from gateway_project.proxy.http1 import Connection, Endpoint, PoolBusy


def _monotonic() -> float:
    """Return the clock idle times are measured with (a seam for tests)."""
    return time.monotonic()


class Pool:
    """At most ``size`` connections to one service, idle ones reused last-in first.

    ``take`` waits ``pool_timeout`` seconds for a free slot (else ``PoolBusy``)
    and hands out an idle connection unless it idled ``max_idle`` seconds or
    more, or the service closed it meanwhile (either way it is reopened);
    ``give_back`` returns the slot, keeping the connection only if it may carry
    another request.
    """

    def __init__(
        self, endpoint: Endpoint, *, size: int, pool_timeout: float, max_idle: float
    ) -> None:
        self.endpoint = endpoint
        self.pool_timeout = pool_timeout
        self.max_idle = max_idle
        self._slots = threading.BoundedSemaphore(size)
        self._idle: list[Connection] = []  # append and pop are atomic

    def take(self, *, fresh: bool = False) -> Connection:
        """Return a connection for one request (``fresh``: a new one)."""
        if not self._slots.acquire(timeout=self.pool_timeout):
            raise PoolBusy("no free connection")
        try:
            connection = self._idle.pop()
        except IndexError:
            return Connection(self.endpoint)
        if (
            fresh
            or _monotonic() - connection.idle_since >= self.max_idle
            or (connection.dropped())
        ):
            connection.close()  # opens again on its next request
        return connection

    def give_back(self, connection: Connection, *, reusable: bool) -> None:
        """Return ``connection``'s slot; keep it for reuse only if ``reusable``."""
        if reusable and connection.sock is not None:
            connection.idle_since = _monotonic()
            self._idle.append(connection)
        else:
            connection.close()
        self._slots.release()

    def close(self) -> None:
        """Close every idle connection."""
        while self._idle:
            self._idle.pop().close()


@dataclass(frozen=True)
class Upstream:
    """One route: requests whose path starts with ``prefix`` go to ``pool``.

    ``name`` (the base URL) is what the log lines show; ``base_path`` is the
    base URL's own path, put before the forwarded path (empty by default).
    """

    prefix: str
    name: str
    base_path: str
    pool: Pool


@dataclass(frozen=True)
class ProxyRoutes:
    """The proxy's routes (upstreams sorted longest prefix first) and limits."""

    upstreams: tuple[Upstream, ...]
    max_body_size: int

    def route(self, path: str) -> Upstream | None:
        """Return the upstream whose prefix ``path`` starts with, if any."""
        for upstream in self.upstreams:
            if path.startswith(upstream.prefix):
                return upstream
        return None


def _upstream(prefix: str, base_url: str) -> Upstream:
    """Return the route ``prefix`` -> ``base_url`` (checked: ``proxy.E001``)."""
    parts = urlsplit(base_url)
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    endpoint = Endpoint(
        host=parts.hostname,
        port=port,
        tls=ssl.create_default_context() if https else None,
        host_header=parts.netloc.rpartition("@")[2],
        connect_timeout=float(proxy_settings.CONNECT_TIMEOUT),
        read_timeout=float(proxy_settings.READ_TIMEOUT),
    )
    pool = Pool(
        endpoint,
        size=int(proxy_settings.POOL_SIZE),
        pool_timeout=float(proxy_settings.POOL_TIMEOUT),
        max_idle=float(proxy_settings.POOL_MAX_IDLE),
    )
    return Upstream(prefix, base_url, parts.path.rstrip("/"), pool)


@functools.cache
def proxy_config() -> ProxyRoutes:
    """Return the proxy configuration, built from ``proxy_settings`` on first call.

    Raise ``ImproperlyConfigured`` for a bad value (``proxy.E001``).
    """
    routes = sorted(proxy_settings.ROUTES.items(), key=lambda item: -len(item[0]))
    return ProxyRoutes(
        upstreams=tuple(_upstream(prefix, url) for prefix, url in routes),
        max_body_size=int(proxy_settings.MAX_BODY_SIZE),
    )


def _reset(*, setting: str, **kwargs: Any) -> None:
    if setting == "GATEWAY_PROXY" and proxy_config.cache_info().currsize:
        for upstream in proxy_config().upstreams:
            upstream.pool.close()
        proxy_config.cache_clear()


setting_changed.connect(_reset)
