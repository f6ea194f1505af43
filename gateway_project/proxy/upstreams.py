"""The routes table (``settings.GATEWAY_PROXY``) and one connection pool per upstream.

Read on first use and kept for the life of the process (each gunicorn worker
has its own pools); a change of the setting in tests drops them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import urllib3
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

DEFAULTS: dict[str, Any] = {
    "ROUTES": {},
    "CONNECT_TIMEOUT": 3.0,
    "READ_TIMEOUT": 30.0,
    "POOL_TIMEOUT": 3.0,
    "POOL_SIZE": 4,
    "MAX_BODY_SIZE": 10 * 1024 * 1024,
}


@dataclass(frozen=True)
class Upstream:
    """One route: requests whose path starts with ``prefix`` go to ``pool``.

    ``name`` (the base URL) is what the log lines show; ``base_path`` is the
    base URL's own path, put before the forwarded path (empty by default).
    """

    prefix: str
    name: str
    base_path: str
    pool: urllib3.HTTPConnectionPool


@dataclass(frozen=True)
class ProxyConfig:
    """The proxy's settings, with its upstreams sorted longest prefix first."""

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
    pool = urllib3.connection_from_url(
        f"{parts.scheme}://{parts.netloc}",
        maxsize=options["POOL_SIZE"],
        block=True,
        retries=False,
    )
    return Upstream(prefix, base_url, parts.path.rstrip("/"), pool)


@functools.cache
def proxy_config() -> ProxyConfig:
    """Return the proxy configuration, built from the settings on first call."""
    options = {**DEFAULTS, **getattr(settings, "GATEWAY_PROXY", {})}
    routes = sorted(options["ROUTES"].items(), key=lambda item: -len(item[0]))
    return ProxyConfig(
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
