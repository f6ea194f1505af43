"""What the clients of the gateway's JSON documents share (JWKS, revocations).

- ``fetch_json``: one bounded GET: ``(connect, read)`` timeouts, no redirect
  followed, anything but a 200 refused, the body read up to a byte limit
  (never whole), and every failure raised as ``FetchFailed``;
- ``RemoteClient``: the base of a client of one URL: its Django cache keys
  (derived from the URL, so every replica computes the same ones), cache calls
  that survive a cache outage, and the fetch-attempt throttle (one attempt per
  interval in this process, then across the replicas sharing the cache);
- ``ClientRegistry``: the process-wide client of each URL.
"""

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Generic, TypeVar

import requests
import urllib3
from django.core.cache import caches

from shared_auth.conf import auth_settings

Timeout = float | tuple[float, float]


class FetchFailed(Exception):
    """One fetch attempt failed; the caller keeps what it holds."""


def fetch_json(
    url: str,
    *,
    timeout: Timeout,
    max_bytes: int,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
) -> Any:
    """Return the JSON value ``url`` serves with a 200; raise ``FetchFailed`` otherwise.

    ``headers`` are sent besides ``Accept: application/json``. A redirect, any
    other status, a transport error, a body over ``max_bytes`` or one that is
    not JSON all fail.
    """
    try:
        with requests.get(
            url,
            params=params,
            timeout=timeout,
            allow_redirects=False,
            headers={"Accept": "application/json", **(headers or {})},
            stream=True,
        ) as response:
            if response.status_code != 200:
                raise FetchFailed(f"HTTP {response.status_code}")
            body = response.raw.read(max_bytes + 1, decode_content=True)
    # A body that stalls or breaks off after the headers surfaces as urllib3's
    # own errors (ReadTimeoutError, ProtocolError), not as requests' ones.
    except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
        raise FetchFailed(type(exc).__name__) from exc
    if len(body) > max_bytes:
        raise FetchFailed("response too large")
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested deep
        raise FetchFailed("response is not JSON") from exc


class RemoteClient:
    """Base of a client of one URL whose document is shared through the cache.

    A subclass names its document: ``cache_name`` makes the cache keys
    ``shared_auth:<cache_name>:<digest>`` (the document) and
    ``shared_auth:<cache_name>-attempt:<digest>`` (the last fetch attempt);
    ``log_name`` and ``logger`` are used when the cache fails. ``clock``
    (wall time, seconds) can be swapped in tests.
    """

    cache_name: ClassVar[str]
    log_name: ClassVar[str]
    logger: ClassVar[logging.Logger]

    def __init__(self, url: str, *, clock: Callable[[], float] = time.time) -> None:
        self.url = url
        self.clock = clock
        digest = hashlib.sha256(url.encode()).hexdigest()[:32]
        self.cache_key = f"shared_auth:{self.cache_name}:{digest}"
        self.attempt_key = f"shared_auth:{self.cache_name}-attempt:{digest}"
        self._lock = threading.Lock()
        self._check_after = float("-inf")
        self._last_attempt = float("-inf")

    def _cache_call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call the Django cache; on a cache outage log it and return None.

        The shared cache is an optimisation: Redis being down must not turn
        into 500s, only into per-process caching and throttling.
        """
        try:
            return getattr(caches[auth_settings.CACHE_ALIAS], method)(*args, **kwargs)
        except Exception as exc:  # any backend's connection error
            self.logger.warning(
                "%s cache %s failed: %s", self.log_name, method, type(exc).__name__
            )
            return None

    def _may_fetch(self, now: float, interval: float) -> bool:
        """Return True, and record the attempt, if no fetch happened lately.

        Checked in this process first, then in the shared cache so that
        replicas sharing it make one attempt per interval between them.
        """
        if now - self._last_attempt < interval:
            return False
        if not self._cache_call("add", self.attempt_key, now, timeout=interval):
            last = self._cache_call("get", self.attempt_key)
            if last is not None and now - last < interval:
                return False
            self._cache_call("set", self.attempt_key, now, timeout=interval)
        self._last_attempt = now
        return True


ClientT = TypeVar("ClientT", bound=RemoteClient)


class ClientRegistry(Generic[ClientT]):
    """The process-wide client of each URL, made by ``factory`` on first use."""

    def __init__(self, factory: Callable[[str], ClientT]) -> None:
        self._factory = factory
        self._clients: dict[str, ClientT] = {}
        self._lock = threading.Lock()

    def get(self, url: str) -> ClientT:
        """Return the client of ``url``, made if this process has none yet."""
        client = self._clients.get(url)
        if client is None:
            with self._lock:
                client = self._clients.setdefault(url, self._factory(url))
        return client

    def clear(self) -> None:
        """Forget every client (their in-process state; the Django cache is kept)."""
        with self._lock:
            self._clients.clear()
