"""The ``GATEWAY_PROXY`` setting, read lazily (``shared_auth.conf.CheckedSettings``).

The same pattern as ``shared_auth.conf``: the defaults live here, nothing is
read at import time, a change of the setting (``override_settings``,
pytest-django's ``settings``) drops the cached values, and a bad value is the
system check ``proxy.E001`` (``gateway_project.proxy.checks``) at start-up and
``ImproperlyConfigured`` on every read. Each key comes from an environment
variable (gateway_project/settings.py), documented once in
docs/configuration.md ("Gateway proxy").
"""

import math
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.signals import setting_changed

from shared_auth.conf import CheckedSettings

DEFAULTS: dict[str, Any] = {
    # Path prefix -> upstream base URL.
    "ROUTES": {},
    # Seconds: to connect, to wait for each read, to wait for a free connection.
    "CONNECT_TIMEOUT": 3.0,
    "READ_TIMEOUT": 30.0,
    "POOL_TIMEOUT": 3.0,
    # Connections per upstream and worker process.
    "POOL_SIZE": 4,
    # Bytes; a larger request body is refused with 413.
    "MAX_BODY_SIZE": 10 * 1024 * 1024,
    # Seconds; below the services' keep-alive (common/gunicorn.py ``keepalive``).
    "POOL_MAX_IDLE": 2.0,
}

_SECONDS = ("CONNECT_TIMEOUT", "READ_TIMEOUT", "POOL_TIMEOUT", "POOL_MAX_IDLE")
_COUNTS = ("POOL_SIZE", "MAX_BODY_SIZE")


class ProxySettings(CheckedSettings):
    """``settings.GATEWAY_PROXY`` with defaults, read on first use."""

    def __init__(self) -> None:
        super().__init__(user_settings=None, defaults=DEFAULTS, import_strings=())

    @property
    def user_settings(self) -> dict[str, Any]:
        """Return the project's ``GATEWAY_PROXY`` (empty if unset)."""
        if not hasattr(self, "_user_settings"):
            self._user_settings = getattr(settings, "GATEWAY_PROXY", {})
        return self._user_settings

    def error(self, attr: str, value: Any) -> str | None:
        """Return the first of ``setting_errors(attr, value)``, if any."""
        return next(iter(setting_errors(attr, value)), None)


def _route_errors(routes: Any) -> list[str]:
    if not isinstance(routes, dict):
        return ["GATEWAY_PROXY['ROUTES'] must be a dict of path prefix to URL."]
    errors = []
    for prefix, base_url in routes.items():
        if not (
            isinstance(prefix, str) and prefix.startswith("/") and prefix.endswith("/")
        ):
            errors.append(
                f"GATEWAY_PROXY['ROUTES'] prefix {prefix!r} must start and end "
                "with '/'."
            )
        parts = urlsplit(base_url if isinstance(base_url, str) else "")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            errors.append(
                f"GATEWAY_PROXY['ROUTES'] upstream {base_url!r} of {prefix!r} is not "
                "an http(s) URL."
            )
    return errors


def setting_errors(attr: str, value: Any) -> list[str]:
    """Return why ``value`` is not a valid ``GATEWAY_PROXY[attr]`` (empty if it is)."""
    if attr == "ROUTES":
        return _route_errors(value)
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if attr in _SECONDS and not (number and math.isfinite(value) and value > 0):
        return [f"GATEWAY_PROXY['{attr}'] must be a positive number of seconds."]
    whole = number and math.isfinite(value) and value == int(value)
    if attr in _COUNTS and not (whole and value >= 1):
        return [f"GATEWAY_PROXY['{attr}'] must be a positive whole number."]
    return []


def unknown_keys() -> list[str]:
    """Return the keys of ``GATEWAY_PROXY`` that are not settings of the proxy."""
    return sorted(set(getattr(settings, "GATEWAY_PROXY", {})) - set(DEFAULTS))


proxy_settings = ProxySettings()


def reload_proxy_settings(*, setting: str, **kwargs: Any) -> None:
    """Drop the cached values when ``GATEWAY_PROXY`` changes."""
    if setting == "GATEWAY_PROXY":
        proxy_settings.reload()


setting_changed.connect(reload_proxy_settings)
