"""Honour ``X-Forwarded-Host`` and ``X-Forwarded-Proto`` from trusted proxies only.

Behind the gateway, a service builds links (the browsable API, ``Location``
headers) from the host and scheme the client used at the gateway. Those come in
``X-Forwarded-Host``/``-Proto``, which anyone can send: they are applied only
when the direct peer (``REMOTE_ADDR``) is in ``settings.TRUSTED_PROXIES`` (a
list of addresses or networks), and removed otherwise.
"""

from collections.abc import Callable
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network

from django.conf import settings
from django.http import HttpRequest, HttpResponse

_HEADERS = ("HTTP_X_FORWARDED_HOST", "HTTP_X_FORWARDED_PROTO")
_SCHEMES = frozenset({"http", "https"})


def _first(value: str) -> str:
    """Return the first (client-most) element of a comma-separated header value."""
    return value.split(",", 1)[0].strip()


class TrustedForwardedMiddleware:
    """Apply forwarded host and scheme from trusted proxies; drop them otherwise.

    From a trusted peer, ``X-Forwarded-Host`` replaces ``Host`` (Django still
    checks it against ``ALLOWED_HOSTS``) and an ``X-Forwarded-Proto`` of ``http``
    or ``https`` becomes the request's scheme.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.trusted: tuple[IPv4Network | IPv6Network, ...] = tuple(
            ip_network(entry, strict=False)
            for entry in getattr(settings, "TRUSTED_PROXIES", ())
        )

    def is_trusted(self, address: str) -> bool:
        """Return True if ``address`` is in one of the trusted networks."""
        try:
            peer = ip_address(address)
        except ValueError:
            return False
        return any(peer in network for network in self.trusted)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        meta = request.META
        # No trusted network (the edge): no peer address to parse.
        if self.trusted and self.is_trusted(meta.get("REMOTE_ADDR", "")):
            host = _first(meta.get("HTTP_X_FORWARDED_HOST", ""))
            scheme = _first(meta.get("HTTP_X_FORWARDED_PROTO", "")).lower()
            if host:
                meta["HTTP_HOST"] = host
            if scheme in _SCHEMES:
                meta["wsgi.url_scheme"] = scheme
        else:
            for key in _HEADERS:
                meta.pop(key, None)
        return self.get_response(request)
