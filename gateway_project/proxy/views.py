"""The proxy view: check, route, authenticate, forward, stream the answer back.

A plain Django view (no DRF request parsing or content negotiation on this
path). Every outcome is logged on one line: method, path, status, upstream and
the upstream's time to response headers; gunicorn then writes no access line
for it (``proxy.accesslog``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    JsonResponse,
    StreamingHttpResponse,
)
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions

from common.errors import (
    REQUEST_TOO_LARGE_CODE,
    REQUEST_TOO_LARGE_DETAIL,
    error_response,
)
from common.tracing import client_span
from gateway_project.proxy import metrics
from gateway_project.proxy.accesslog import PROXY_LOGGED
from gateway_project.proxy.auth import edge_token, www_authenticate
from gateway_project.proxy.headers import downstream_headers, upstream_headers
from gateway_project.proxy.http1 import (
    ClosedUnanswered,
    ConnectFailed,
    ConnectTimeout,
    PoolBusy,
    ReadTimeout,
    Response,
    UpstreamError,
)
from gateway_project.proxy.paths import UnsafePath, checked_path, raw_target
from gateway_project.proxy.upstreams import Pool, Upstream, proxy_config

logger = logging.getLogger(__name__)

ALLOWED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_BODY_METHODS = ("POST", "PUT", "PATCH")
# RFC 9110 section 9.2.2: a client may send these again after a failed attempt.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
BAD_GATEWAY_DETAIL = "Bad response from the upstream service."


class ProxyError(Exception):
    """An answer the gateway gives itself, as JSON ``{"detail": ..., "code": ...}``."""

    def __init__(self, status: int, detail: str, code: str, **headers: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.code = code
        self.headers = {
            name.replace("_", "-"): value for name, value in headers.items()
        }

    def response(self) -> JsonResponse:
        """Return the JSON error response."""
        return error_response(self.status, self.detail, self.code, headers=self.headers)


# How a failure to get an answer from the service is told to the client, as
# the services' error maps do; any other failure (a bad or broken-off answer,
# a connection closed unanswered) is a 502 ``bad_gateway``.
UPSTREAM_ERRORS: dict[type[UpstreamError], tuple[int, str, str]] = {
    ConnectFailed: (
        502,
        "Upstream service refused the connection.",
        "upstream_refused",
    ),
    ConnectTimeout: (503, "Upstream service unavailable.", "upstream_unavailable"),
    ReadTimeout: (504, "Upstream service timed out.", "upstream_timeout"),
    PoolBusy: (503, "Upstream service busy: no free connection.", "upstream_busy"),
}


def upstream_error(exc: UpstreamError) -> ProxyError:
    """Return the ``ProxyError`` that ``UPSTREAM_ERRORS`` maps ``exc`` to."""
    status, detail, code = UPSTREAM_ERRORS.get(
        type(exc), (502, BAD_GATEWAY_DETAIL, "bad_gateway")
    )
    return ProxyError(status, detail, code)


class UpstreamBody:
    """The service's response body, relayed in chunks as it arrives.

    Closing it hands the connection back to the pool, to be reused only if the
    body was read to its end (unread bytes would corrupt the next exchange).
    """

    def __init__(self, pool: Pool, response: Response) -> None:
        self._pool = pool
        self._response = response

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._response.iter_body()
        except (UpstreamError, OSError):
            logger.warning("upstream response body broken off", exc_info=True)
            raise

    def close(self) -> None:
        """Give the connection back to the pool (closed unless read through)."""
        response = self._response
        self._pool.give_back(
            response.connection, reusable=response.complete and response.reusable
        )


def _request_body(request: HttpRequest, limit: int) -> bytes:
    """Return the request body, at most ``limit`` bytes.

    Raise ``ProxyError`` 413 above ``limit`` (before reading it when the
    ``Content-Length`` says so) and 400 for a broken body.
    """
    too_large = ProxyError(413, REQUEST_TOO_LARGE_DETAIL, REQUEST_TOO_LARGE_CODE)
    if "HTTP_TRANSFER_ENCODING" in request.META:
        if request.META["HTTP_TRANSFER_ENCODING"].strip().lower() != "chunked":
            raise ProxyError(400, "Unsupported transfer coding.", "bad_request")
        try:
            body = request.META["wsgi.input"].read(limit + 1)
        # The server decodes the chunks and raises its own errors (gunicorn's
        # InvalidChunkSize is no OSError): any of them means a broken body.
        except Exception as exc:
            raise ProxyError(400, "Malformed chunked body.", "bad_request") from exc
        if len(body) > limit:
            raise too_large
        return body
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError as exc:
        raise ProxyError(400, "Invalid Content-Length.", "bad_request") from exc
    if length > limit:
        raise too_large
    return request.body if length > 0 else b""


def _send(
    pool: Pool, method: str, target: str, headers: dict[str, str], body: bytes
) -> Response:
    """Return the service's response to one request, sent twice at most.

    A pooled connection the service closed at the moment it was reused (its
    keep-alive ran out as the request went out) fails with no answer at all.
    An idempotent request (whose body, if any, is held whole in memory) is then
    sent once more on a fresh connection, as Envoy does for a reset before the
    request: a second send cannot do what the first did not. Any other method,
    and any other failure, is not retried.
    """
    for attempt in (1, 2):
        connection = pool.take(fresh=attempt == 2)
        try:
            return connection.send(method, target, headers, body)
        except ClosedUnanswered:
            pool.give_back(connection, reusable=False)
            if attempt == 2 or method not in IDEMPOTENT_METHODS:
                raise
            logger.info(
                "upstream closed a connection unanswered; retrying %s once", method
            )
        except BaseException:
            pool.give_back(connection, reusable=False)
            raise
    raise AssertionError("unreachable")


def _open(
    request: HttpRequest, upstream: Upstream, *, path: str, body: bytes, token: str
) -> Response:
    """Send ``request`` to ``upstream`` and return its response, body unread.

    The seconds the service took to answer with headers (or to fail) are left
    on ``request.proxy_upstream_seconds`` for the log line.

    Raise ``ProxyError`` 502 when the service refuses the connection or answers
    garbage, 503 on connect timeout or no free connection, 504 on read timeout,
    400 for a header that cannot be forwarded.
    """
    query = request.META.get("QUERY_STRING", "")
    target = upstream.base_path + path + (f"?{query}" if query else "")
    started = time.perf_counter()
    with client_span(request.method, upstream.name + target):
        has_body = bool(body) or request.method in _BODY_METHODS
        headers = upstream_headers(
            request, token=token, content_length=len(body) if has_body else None
        )
        try:
            return _send(upstream.pool, request.method, target, headers, body)
        except UpstreamError as exc:
            raise upstream_error(exc) from exc
        except ValueError as exc:
            raise ProxyError(
                400, "The request cannot be forwarded as sent.", "bad_request"
            ) from exc
        finally:
            request.proxy_upstream_seconds = time.perf_counter() - started


def _relay(pool: Pool, upstream: Response) -> HttpResponse | StreamingHttpResponse:
    """Return a response carrying ``upstream``'s status, headers and body.

    A body that came whole with the head (the usual small JSON answer) is
    relayed as it is, its connection given back at once; any other is
    streamed as it arrives. Raise ``ProxyError`` 502 (after dropping the
    connection) for a status code HTTP does not have.
    """
    body = UpstreamBody(pool, upstream)
    if not 100 <= upstream.status <= 599:
        body.close()
        raise ProxyError(502, BAD_GATEWAY_DETAIL, "bad_gateway")
    # Repeated fields are joined (Set-Cookie apart: one per cookie), under the
    # name and at the place of their first occurrence; the response is built
    # with them at once rather than field by field (a tenth of this function).
    fields: dict[str, tuple[str, str]] = {}
    cookies: list[str] = []
    for name, value in downstream_headers(
        upstream.fields, upstream.header("connection")
    ):
        lowered = name.lower()
        if lowered == "set-cookie":
            cookies.append(value)
        elif lowered in fields:
            first_name, joined = fields[lowered]
            fields[lowered] = (first_name, f"{joined}, {value}")
        else:
            fields[lowered] = (name, value)
    options = {
        "status": upstream.status,
        "reason": upstream.reason or None,
        "headers": dict(fields.values()),
    }
    whole = upstream.whole_body()
    if whole is None:
        response: HttpResponse | StreamingHttpResponse = StreamingHttpResponse(
            body, **options
        )
    else:
        body.close()  # read through: the connection may be reused
        response = HttpResponse(whole, **options)
    if "content-type" not in fields:
        del response["Content-Type"]  # Django's default: not the service's
    for cookie in cookies:
        response.cookies.load(cookie)
    return response


def _api_error(request: HttpRequest, exc: exceptions.APIException) -> JsonResponse:
    """Return ``{"detail", "code"}`` for ``exc`` (401s with ``WWW-Authenticate``)."""
    codes = exc.get_codes()
    response = error_response(
        exc.status_code, str(exc.detail), codes if isinstance(codes, str) else "error"
    )
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        response.status_code = 401
        response["WWW-Authenticate"] = www_authenticate(request)
    return response


@csrf_exempt
def proxy(request: HttpRequest) -> HttpResponseBase:
    """Forward ``request`` to the service its path routes to.

    Answer 400 for an unsafe path, 404 for an unknown prefix, 405 for other
    methods, 401/403 without valid credentials, and 413/502/503/504 as
    ``_request_body`` and ``_open`` say; else relay the service's answer.
    """
    started = time.perf_counter()
    config = proxy_config()
    target = raw_target(request)
    upstream: Upstream | None = None
    try:
        raw_path, path = checked_path(target)
        upstream = config.route(path)
        if upstream is None:
            raise ProxyError(404, "Not found.", "not_found")
        if request.method not in ALLOWED_METHODS:
            raise ProxyError(
                405,
                f'Method "{request.method}" not allowed.',
                "method_not_allowed",
                Allow=", ".join(ALLOWED_METHODS),
            )
        body = _request_body(request, config.max_body_size)
        token = edge_token(request)
        response = _relay(
            upstream.pool,
            _open(request, upstream, path=raw_path, body=body, token=token),
        )
    except UnsafePath:
        response = ProxyError(400, "Invalid request path.", "invalid_path").response()
    except ProxyError as exc:
        response = exc.response()
        if exc.status in (502, 503, 504):
            metrics.record_upstream_error(
                prefix=upstream.prefix if upstream else None, kind=exc.code
            )
    except exceptions.APIException as exc:
        response = _api_error(request, exc)
    metrics.observe(
        prefix=upstream.prefix if upstream else None,
        status=response.status_code,
        total_seconds=time.perf_counter() - started,
        upstream_seconds=getattr(request, "proxy_upstream_seconds", None),
    )
    _log(request, target, response.status_code, upstream)
    return response


def _log(
    request: HttpRequest,
    target: str,
    status: int,
    upstream: Upstream | None,
) -> None:
    """Log the request's one line, and mark it logged for gunicorn's access log."""
    if not logger.isEnabledFor(logging.INFO):
        return
    elapsed = getattr(request, "proxy_upstream_seconds", None)
    logger.info(
        "%s %s %s upstream=%s upstream_ms=%s",
        request.method,
        target.split("?", 1)[0][:256],
        status,
        upstream.name if upstream else "-",
        f"{elapsed * 1000:.1f}" if elapsed is not None else "-",
    )
    request.META[PROXY_LOGGED] = True
