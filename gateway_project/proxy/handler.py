"""The gateway's WSGI handler: the proxy's fast path without the request signals.

Django's handler sends ``request_started`` and ``request_finished`` around every
request; their receivers (old database connections, caches, queries, the
URLconf) were 13% of the gateway's CPU per proxied request, and the response's
``close()``, which sends ``request_finished``, delays the end of the answer
under granian (docs/performance.md). A bearer-token ``/api/`` request
(``proxy.middleware``) runs through the same middleware and view as before but
sends neither signal. The one database use on that path, the revocation list's
reload, does the connection housekeeping the signals would have done
(``identity.revocation_memo``). Every other request is Django's.

An answer whose body is whole in memory goes to the server as one bytes
object, a streamed one as an iterable whose ``close`` releases what the
response holds (the upstream connection, the request's files).
"""

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.core.handlers.wsgi import WSGIHandler, WSGIRequest
from django.http import HttpResponseBase

from gateway_project.proxy.middleware import is_bearer_api_request

logger = logging.getLogger(__name__)


def release(response: HttpResponseBase) -> None:
    """Run ``response``'s closers as ``HttpResponseBase.close`` does, minus
    ``request_finished``."""
    # The list get_response and streaming_content fill (Django 5.2).
    closers = response._resource_closers
    for closer in closers:
        try:
            closer()
        except Exception:  # as Django's close: one failing closer stops none
            logger.warning("closing a proxied response failed", exc_info=True)
    closers.clear()


class Streamed:
    """A streamed answer as the WSGI server gets it: chunks, then ``close``."""

    def __init__(self, response: HttpResponseBase) -> None:
        self._response = response

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._response)

    def close(self) -> None:
        """Release what the response holds (``release``)."""
        release(self._response)


class FastPathRequest(WSGIRequest):
    """A bearer ``/api/`` request: its host is validated and built once.

    ``CommonMiddleware`` and the proxy's ``X-Forwarded-Host`` both ask for it,
    after ``TrustedForwardedMiddleware`` has settled the headers it reads; a
    host that fails ``ALLOWED_HOSTS`` raises on every call, as Django's does.
    """

    def get_host(self) -> str:
        host = self.__dict__.get("_host")
        if host is None:
            host = self._host = super().get_host()
        return host


class GatewayWSGIHandler(WSGIHandler):
    """Django's WSGI handler; bearer-token ``/api/`` requests skip its signals."""

    def __call__(
        self, environ: dict[str, Any], start_response: Callable
    ) -> Iterable[bytes]:
        if not is_bearer_api_request(environ):
            return super().__call__(environ, start_response)
        request = FastPathRequest(environ)
        response = self.get_response(request)
        jar = response.cookies.values()
        cookies = [("Set-Cookie", cookie.output(header="")) for cookie in jar]
        start_response(
            f"{response.status_code} {response.reason_phrase}",
            [*response.items(), *cookies],
        )
        if response.streaming:
            return Streamed(response)
        try:
            return [response.content]
        finally:
            release(response)
