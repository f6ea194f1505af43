"""System checks of the proxy (registered in ``ProxyConfig.ready``).

``proxy.E001``: a ``GATEWAY_PROXY`` value the proxy cannot work with: a route
whose prefix does not start and end with ``/`` or whose upstream is not an
http(s) URL, a timeout or idle time that is not a positive number of seconds,
a pool or body size that is not a positive whole number, or an unknown key
(a misspelt one would be ignored).
"""

from typing import Any

from django.core import checks

from gateway_project.proxy.conf import (
    DEFAULTS,
    proxy_settings,
    setting_errors,
    unknown_keys,
)

HINT = "The proxy's environment variables: docs/configuration.md, 'Gateway proxy'."


def check_settings(**kwargs: Any) -> list[checks.CheckMessage]:
    """Return one ``proxy.E001`` per bad ``GATEWAY_PROXY`` value or unknown key."""
    errors = [
        error
        for attr in DEFAULTS
        for error in setting_errors(attr, proxy_settings.raw(attr))
    ]
    unknown = unknown_keys()
    if unknown:
        errors.append(f"GATEWAY_PROXY has unknown keys: {', '.join(unknown)}.")
    return [checks.Error(error, hint=HINT, id="proxy.E001") for error in errors]
