"""RFC 8693 token exchange at the gateway, for calls from one service to another.

A service never sends its caller's token on: ``exchange_token`` trades it, at
``SHARED_AUTH['TOKEN_URL']`` with this service's client credentials (HTTP
Basic, RFC 6749 section 2.3.1), for a token whose only audience is the called
service, with at most ``scope``, and ``act: {"sub": <this client>}``.

The exchanged token is kept in process memory per (subject token, audience,
scope) until ``EXCHANGE_EXPIRY_MARGIN`` seconds before it expires, so a burst
of calls for one caller costs one exchange; concurrent misses for the same key
wait for one exchange instead of making their own. The memory is bounded
(``EXCHANGE_CACHE_SIZE`` entries, least recently used dropped) and holds
digests of the subject tokens, never the tokens themselves.

Any failure (the endpoint down, slow, refusing, answering nonsense, or no
client credentials configured) raises ``ServiceUnavailable`` (503): the call
is not made, and never with the caller's own token instead.
"""

import hashlib
import json
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from http.cookiejar import DefaultCookiePolicy
from typing import Any
from urllib.parse import quote

import requests
import urllib3
from django.core.signals import setting_changed
from django.utils.translation import gettext_lazy as _
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from shared_auth.conf import auth_settings
from shared_auth.exceptions import ServiceUnavailable
from shared_auth.middleware import REQUEST_ID_HEADER

logger = logging.getLogger(__name__)

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
MAX_RESPONSE_BYTES = 65536


class ExchangeFailed(Exception):
    """One exchange attempt failed (the reason is the message)."""


@dataclass(frozen=True)
class ExchangedToken:
    """An exchanged access token and when it expires (epoch seconds)."""

    token: str
    expires_at: float


class TokenExchanger:
    """Exchanges and caches tokens; one per process, safe to share by threads.

    ``clock`` (wall time, seconds) can be swapped in tests; ``exchanges``
    counts the exchanges made (not the cache hits).
    """

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.exchanges = 0
        self._tokens: OrderedDict[str, ExchangedToken] = OrderedDict()
        self._inflight: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def token_for(
        self,
        subject_token: str,
        *,
        audience: str,
        scope: str | None = None,
        request_id: str | None = None,
    ) -> str:
        """Return a token exchanged for ``subject_token``, from memory if fresh.

        Raise ``ServiceUnavailable`` if no usable token can be had.
        """
        key = hashlib.sha256(
            "\n".join((subject_token, audience, scope or "")).encode()
        ).hexdigest()
        cached = self._fresh(key)
        if cached is not None:
            return cached
        with self._lock:
            key_lock = self._inflight.setdefault(key, threading.Lock())
        with key_lock:
            cached = self._fresh(key)
            if cached is not None:
                return cached
            try:
                exchanged = self._exchange(subject_token, audience, scope, request_id)
            finally:
                with self._lock:
                    self._inflight.pop(key, None)
            self._store(key, exchanged)
        return exchanged.token

    def clear(self) -> None:
        """Forget every exchanged token."""
        with self._lock:
            self._tokens.clear()

    def _fresh(self, key: str) -> str | None:
        margin = auth_settings.EXCHANGE_EXPIRY_MARGIN
        with self._lock:
            held = self._tokens.get(key)
            if held is None:
                return None
            if held.expires_at - margin <= self.clock():
                del self._tokens[key]
                return None
            self._tokens.move_to_end(key)
            return held.token

    def _store(self, key: str, exchanged: ExchangedToken) -> None:
        if exchanged.expires_at - auth_settings.EXCHANGE_EXPIRY_MARGIN <= self.clock():
            return  # too short-lived to be worth keeping
        with self._lock:
            self._tokens[key] = exchanged
            self._tokens.move_to_end(key)
            while len(self._tokens) > auth_settings.EXCHANGE_CACHE_SIZE:
                self._tokens.popitem(last=False)

    def _exchange(
        self,
        subject_token: str,
        audience: str,
        scope: str | None,
        request_id: str | None,
    ) -> ExchangedToken:
        started = self.clock()
        try:
            answer = post_exchange(
                subject_token, audience=audience, scope=scope, request_id=request_id
            )
            exchanged = ExchangedToken(
                token=answer["access_token"],
                expires_at=started + answer["expires_in"],
            )
        except ExchangeFailed as exc:
            logger.warning("Token exchange for audience %s failed: %s", audience, exc)
            raise ServiceUnavailable(
                "token",
                detail=_(
                    "The token for the {service} service could not be obtained; "
                    "try again later."
                ).format(service=audience),
            ) from exc
        with self._lock:
            self.exchanges += 1
        logger.info("Token exchanged for audience %s", audience)
        return exchanged


def post_exchange(
    subject_token: str,
    *,
    audience: str,
    scope: str | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """Return the token endpoint's checked answer; raise ``ExchangeFailed``.

    The answer must be a 200 JSON object with a string ``access_token``,
    ``token_type`` ``Bearer`` and a positive ``expires_in`` (RFC 8693
    section 2.2.1).
    """
    client_id, secret = auth_settings.CLIENT_ID, auth_settings.CLIENT_SECRET
    if not client_id or not secret:
        raise ExchangeFailed("no CLIENT_ID / CLIENT_SECRET configured")
    data = {
        "grant_type": GRANT_TYPE,
        "subject_token": subject_token,
        "subject_token_type": ACCESS_TOKEN_TYPE,
        "requested_token_type": ACCESS_TOKEN_TYPE,
        "audience": audience,
    }
    if scope:
        data["scope"] = scope
    headers = {"Accept": "application/json"}
    if request_id:
        headers[REQUEST_ID_HEADER] = request_id
    try:
        with _http().post(
            auth_settings.TOKEN_URL,
            data=data,
            # RFC 6749 section 2.3.1: form-encode both before Basic.
            auth=(quote(client_id, safe=""), quote(secret, safe="")),
            headers=headers,
            timeout=auth_settings.EXCHANGE_TIMEOUT,
            allow_redirects=False,
            stream=True,
        ) as response:
            body = response.raw.read(MAX_RESPONSE_BYTES + 1, decode_content=True)
            status = response.status_code
    except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
        raise ExchangeFailed(type(exc).__name__) from exc
    return _checked_answer(status, body)


def _checked_answer(status: int, body: bytes) -> dict[str, Any]:
    if len(body) > MAX_RESPONSE_BYTES:
        raise ExchangeFailed("response too large")
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise ExchangeFailed(f"HTTP {status}, not JSON") from exc
    if status != 200:
        error = payload.get("error") if isinstance(payload, dict) else None
        raise ExchangeFailed(f"HTTP {status} {str(error)[:64]}")
    if not isinstance(payload, dict):
        raise ExchangeFailed("not a JSON object")
    token, lifetime = payload.get("access_token"), payload.get("expires_in")
    if not isinstance(token, str) or not token:
        raise ExchangeFailed("no access_token")
    if str(payload.get("token_type", "")).lower() != "bearer":
        raise ExchangeFailed("token_type is not Bearer")
    if (
        isinstance(lifetime, bool)
        or not isinstance(lifetime, int | float)
        or not math.isfinite(lifetime)
        or lifetime <= 0
    ):
        raise ExchangeFailed("no usable expires_in")
    return {"access_token": token, "expires_in": float(lifetime)}


@lru_cache(maxsize=1)
def _http() -> requests.Session:
    """Return the pooled session for the token endpoint (no cookies kept).

    A connection that could not be made is retried twice (nothing was sent);
    nothing else is.
    """
    session = requests.Session()
    retry = Retry(
        total=2,
        connect=2,
        read=0,
        status=0,
        other=0,
        redirect=False,
        allowed_methods=None,
        backoff_factor=0.05,
        raise_on_status=False,
    )
    session.mount("http://", HTTPAdapter(max_retries=retry, pool_maxsize=16))
    session.mount("https://", HTTPAdapter(max_retries=retry, pool_maxsize=16))
    session.trust_env = False  # no proxy or .netrc from the environment
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    return session


@lru_cache(maxsize=1)
def get_exchanger() -> TokenExchanger:
    """Return the process-wide ``TokenExchanger``."""
    return TokenExchanger()


def reset_exchanger(**kwargs: Any) -> None:
    """Forget the exchanger and its tokens (tests; any SHARED_AUTH change)."""
    if kwargs.get("setting") in (None, "SHARED_AUTH", "JWT_ISSUER"):
        get_exchanger.cache_clear()


setting_changed.connect(reset_exchanger)


def exchange_token(
    subject_token: str,
    *,
    audience: str,
    scope: str | None = None,
    request_id: str | None = None,
) -> str:
    """Return a token exchanged for ``subject_token`` (see ``TokenExchanger``)."""
    return get_exchanger().token_for(
        subject_token, audience=audience, scope=scope, request_id=request_id
    )
