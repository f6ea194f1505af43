"""The token-exchanging ``requests`` session for calls between services.

``ServiceSession`` is bound to one service's base URL and may be a
module-level object shared by every thread: it holds no per-user state. Each
call gets ``Authorization`` and ``X-Request-ID`` from ``PropagateAuth`` (a
``requests.auth.AuthBase``), which reads, at send time, the request the
middleware put in ``current_request_var`` (or an explicit request), and sends
not the caller's token but one exchanged for it (``shared_auth.exchange``,
RFC 8693) with the called service as its only audience: the caller's own
token never leaves this service. An explicit ``token`` (a job's own machine
token) is sent as is. Cookies are never kept, redirects are not followed,
every call has a timeout, connection errors are retried for idempotent
methods only, and transport failures become ``ServiceUnavailable`` or
``ServiceTimeout`` (503 JSON naming the service); a failed exchange is a 503
too, and nothing is sent.
"""

import logging
from collections.abc import Mapping
from http.cookiejar import DefaultCookiePolicy
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase
from requests.cookies import RequestsCookieJar
from urllib3.exceptions import ProtocolError
from urllib3.util.retry import Retry

from shared_auth.conf import auth_settings
from shared_auth.context import current_request_var, request_id_var
from shared_auth.exceptions import ServiceTimeout, ServiceUnavailable
from shared_auth.exchange import exchange_token
from shared_auth.middleware import REQUEST_ID_HEADER, sane_request_id

logger = logging.getLogger(__name__)

Timeout = tuple[float, float]


class RefuseAllCookies(DefaultCookiePolicy):
    """A cookie policy that stores nothing and sends nothing."""

    def set_ok(self, cookie: Any, request: Any) -> bool:
        """Return False: no cookie is ever stored."""
        return False

    def return_ok(self, cookie: Any, request: Any) -> bool:
        """Return False: no stored cookie is ever sent."""
        return False


class IdempotentRetry(Retry):
    """``Retry`` that retries connection errors of idempotent methods only."""

    def increment(self, method: str | None = None, *args: Any, **kwargs: Any) -> Retry:
        """Give up at once (``MaxRetryError``) for a non-idempotent method."""
        if method and method.upper() not in (self.allowed_methods or ()):
            exhausted = self.new(total=0, connect=0)
            return Retry.increment(exhausted, method, *args, **kwargs)
        return super().increment(method, *args, **kwargs)


def bearer_from_request(request: Any) -> str | None:
    """Return the bearer token ``request`` came with, if any (one credential)."""
    meta: Mapping[str, str] = getattr(request, "META", {})
    parts = meta.get("HTTP_AUTHORIZATION", "").split()
    if len(parts) == 2 and parts[0].lower() == "bearer":
        return parts[1]
    return None


class PropagateAuth(AuthBase):
    """Add ``Authorization`` (exchanged) and ``X-Request-ID`` to one request.

    With neither ``request`` nor ``token``, both are read when the request is
    sent, from ``current_request_var`` and ``request_id_var``: the same
    instance serves every thread and user correctly. The caller's token is
    exchanged for one meant for ``audience`` with ``scope`` (cached; raise
    ``ServiceUnavailable`` if the exchange fails); ``token`` is sent as is.
    """

    def __init__(
        self,
        *,
        audience: str,
        scope: str | None = None,
        request: Any = None,
        token: str | None = None,
    ) -> None:
        self.audience = audience
        self.scope = scope
        self.request = request
        self.token = token

    def __call__(self, prepared: requests.PreparedRequest) -> requests.PreparedRequest:
        """Set the headers on ``prepared`` and return it."""
        request = self.request or current_request_var.get()
        request_id = self._request_id(request)
        token = self.token
        if token is None:
            subject = bearer_from_request(request)
            if subject is not None:
                token = exchange_token(
                    subject,
                    audience=self.audience,
                    scope=self.scope,
                    request_id=request_id,
                )
        prepared.headers.pop("Authorization", None)
        if token:
            prepared.headers["Authorization"] = f"Bearer {token}"
        prepared.headers[REQUEST_ID_HEADER] = request_id
        return prepared

    @staticmethod
    def _request_id(request: Any) -> str:
        request_id = getattr(request, "request_id", None) or request_id_var.get()
        return sane_request_id(request_id if request_id != "-" else None)


class ServiceSession(requests.Session):
    """A pooled session for one service; paths are relative to ``base_url``.

    ``session.post("/api/customers/1/reservations/", json=...)`` sends a token
    exchanged for the current caller's, meant for ``audience`` (default
    ``service_name``) with ``scope`` (default: all the exchange grants), and
    the request id, with ``timeout`` (default
    ``SHARED_AUTH['SESSION_TIMEOUT']``, read per call). Responses of any status
    are returned; a connection failure raises ``ServiceUnavailable`` (never
    reached) and a read timeout or a dropped connection raises
    ``ServiceTimeout`` (may have been applied), both naming ``service_name``.
    Give ``request`` or ``token`` only to a session used for one caller.
    """

    def __init__(
        self,
        base_url: str,
        service_name: str,
        *,
        timeout: Timeout | None = None,
        audience: str | None = None,
        scope: str | None = None,
        request: Any = None,
        token: str | None = None,
        retries: int = 2,
        pool_maxsize: int = 16,
    ) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")
        self.service_name = service_name
        self.timeout = timeout
        self.auth = PropagateAuth(
            audience=audience or service_name, scope=scope, request=request, token=token
        )
        self.cookies = RequestsCookieJar(policy=RefuseAllCookies())
        self.max_redirects = 0
        retry = IdempotentRetry(
            total=retries,
            connect=retries,
            read=False,
            status=0,
            other=0,
            redirect=False,
            backoff_factor=0.1,
            raise_on_status=False,
            respect_retry_after_header=False,
        )
        adapter = HTTPAdapter(max_retries=retry, pool_maxsize=pool_maxsize)
        self.mount("http://", adapter)
        self.mount("https://", adapter)

    def url_for(self, path: str) -> str:
        """Return the absolute URL of ``path``; refuse URLs of other origins."""
        if urlsplit(path).scheme or path.startswith("//"):
            if not path.startswith(self.base_url + "/") and path != self.base_url:
                raise ValueError("ServiceSession only calls its own base URL.")
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def request(  # type: ignore[override]
        self, method: str, url: str, *args: Any, **kwargs: Any
    ) -> requests.Response:
        """Send one request; raise the typed exceptions on transport failure."""
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout or auth_settings.SESSION_TIMEOUT
        kwargs.setdefault("allow_redirects", False)
        try:
            return super().request(method, self.url_for(url), *args, **kwargs)
        except (requests.ReadTimeout, requests.exceptions.ChunkedEncodingError) as exc:
            self._log_failure(method, url, exc)
            raise ServiceTimeout(self.service_name) from exc
        except requests.ConnectionError as exc:
            self._log_failure(method, url, exc)
            if exc.args and isinstance(exc.args[0], ProtocolError):
                raise ServiceTimeout(self.service_name) from exc
            raise ServiceUnavailable(self.service_name) from exc
        except requests.RequestException as exc:
            self._log_failure(method, url, exc)
            raise ServiceUnavailable(self.service_name) from exc

    def _log_failure(self, method: str, path: str, exc: Exception) -> None:
        logger.warning(
            "%s %s on the %s service failed: %s",
            method,
            path,
            self.service_name,
            type(exc).__name__,
        )
