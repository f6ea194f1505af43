"""Header hygiene in both directions.

Hop-by-hop headers (RFC 9110 section 7.6.1) and every header the ``Connection``
header names are dropped both ways. Towards a service the gateway also drops
what identifies the caller or describes the hop (cookies, credentials,
forwarding and identity-looking headers) and sets its own.
"""

from collections.abc import Iterable, Iterator

from django.http import HttpRequest

from common.tracing import inject_context

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# Set by the gateway itself, or never a client's to send to a service.
_DROPPED_TOWARDS_SERVICE = frozenset(
    {
        "authorization",
        "content-length",
        "cookie",
        "expect",
        "forwarded",
        "host",
        "remote-user",
        "x-real-ip",
        "x-request-id",
        "x-original-url",
        "x-rewrite-url",
    }
)
_DROPPED_PREFIXES = (
    "x-forwarded-",
    "x-user",
    "x-authenticated-",
    "x-remote-",
    "x-auth-",
)


def connection_tokens(value: str | None) -> set[str]:
    """Return the lower-cased header names listed in a ``Connection`` value."""
    return {token.strip().lower() for token in (value or "").split(",")} - {""}


def _client_headers(request: HttpRequest) -> Iterator[tuple[str, str]]:
    """Yield the request's headers as ``(lower-cased name, value)``."""
    for key, value in request.META.items():
        if key.startswith("HTTP_"):
            yield key[5:].replace("_", "-").lower(), value
    if request.META.get("CONTENT_TYPE"):
        yield "content-type", request.META["CONTENT_TYPE"]


def _forwardable(name: str, named_by_connection: set[str]) -> bool:
    return not (
        name in HOP_BY_HOP
        or name in named_by_connection
        or name in _DROPPED_TOWARDS_SERVICE
        or name.startswith(_DROPPED_PREFIXES)
    )


def upstream_headers(
    request: HttpRequest, *, token: str, content_length: int | None
) -> dict[str, str]:
    """Return the headers to send to a service for ``request``.

    The client's end-to-end headers are kept; the gateway sets
    ``Authorization`` (``token``), ``X-Forwarded-For/-Host/-Proto``,
    ``X-Request-ID``, when there is a body, ``Content-Length`` and, when
    tracing is on, ``traceparent`` (its own span's: ``common.tracing``).
    """
    named = connection_tokens(request.META.get("HTTP_CONNECTION"))
    headers = {
        name: value
        for name, value in _client_headers(request)
        if _forwardable(name, named)
    }
    headers.update(
        {
            "authorization": f"Bearer {token}",
            "x-forwarded-for": request.META.get("REMOTE_ADDR", ""),
            "x-forwarded-host": request.get_host(),
            "x-forwarded-proto": request.scheme,
            "x-request-id": request.request_id,
        }
    )
    if content_length is not None:
        headers["content-length"] = str(content_length)
    inject_context(headers)
    return headers


def downstream_headers(
    headers: Iterable[tuple[str, str]], connection: str | None
) -> Iterator[tuple[str, str]]:
    """Yield a service's response headers minus the hop-by-hop ones."""
    named = connection_tokens(connection)
    for name, value in headers:
        lowered = name.lower()
        if lowered not in HOP_BY_HOP and lowered not in named:
            yield name, value
