"""The gateway's public keys, fetched from its JWKS and cached.

PyJWT parses the key set (``PyJWKSet``); this module adds what its
``PyJWKClient`` lacks for a service's hot path:

- two cache tiers: parsed keys in process memory (no I/O per request) and the
  raw key set in the Django cache, so replicas share one fetch;
- a failed refresh (refused, hang, HTTP error, HTML with 200, empty or unusable
  set) keeps the last good keys and logs a warning (PyJWT #1162), and while one
  thread refreshes, the others keep using the keys they have instead of waiting;
- every fetch, whatever triggers it (first use, expiry, unknown ``kid``), is
  throttled to one per ``JWKS_MIN_REFETCH_INTERVAL`` across the replicas
  sharing the cache, so a flood of forged kids cannot hammer the gateway
  (PyJWT #914);
- bounded ``(connect, read)`` timeouts instead of PyJWT's 30 s, no redirects;
- only keys with a string ``kid``, ``use`` ``sig`` (or none) and an allowed
  asymmetric algorithm are kept (never ``oct`` keys).

The bounded fetch, the cache calls, the throttle and the per-URL registry are
``shared_auth.remote``'s, shared with ``shared_auth.revocation``.
"""

import logging
import time
from collections.abc import Callable
from typing import Any

from jwt import PyJWK, PyJWKSet
from jwt.exceptions import PyJWTError

from shared_auth import metrics
from shared_auth.conf import auth_settings
from shared_auth.remote import ClientRegistry, FetchFailed, RemoteClient, fetch_json

logger = logging.getLogger(__name__)

MAX_JWKS_BYTES = 1_000_000


class JWKSError(Exception):
    """Base class of the key-lookup failures."""


class KeysUnavailable(JWKSError):
    """No key set was ever obtained: tokens cannot be checked (503)."""


class UnknownKey(JWKSError):
    """The key set, refreshed if allowed, has no usable key with that kid (401)."""


class JWKSClient(RemoteClient):
    """Signing keys of one JWKS URL, safe to share between threads.

    ``clock`` (wall time, seconds) can be swapped in tests. The settings
    (TTL, interval, timeouts, algorithms, cache alias) are read on use.
    """

    cache_name = "jwks"
    log_name = "JWKS"
    logger = logging.getLogger(__name__)

    def __init__(self, url: str, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__(url, clock=clock)
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at: float | None = None

    def get_signing_key(self, kid: str) -> PyJWK:
        """Return the key for ``kid``.

        Raise ``UnknownKey`` if no usable key has that kid (after one throttled
        refetch), ``KeysUnavailable`` if no key set could ever be obtained.
        """
        keys = self._keys if self.clock() < self._check_after else self._refresh()
        key = keys.get(kid)
        if key is None:
            key = self._refresh(wanted_kid=kid).get(kid)
        if key is None:
            raise UnknownKey("No usable signing key has this kid.")
        return key

    def _refresh(self, *, wanted_kid: str | None = None) -> dict[str, PyJWK]:
        """Return the keys after adopting newer shared ones or fetching if allowed.

        A routine refresh of keys we already hold never waits for another
        thread's fetch (stale-while-revalidate): the stale keys are returned.
        """
        if wanted_kid is None and self._keys:
            if not self._lock.acquire(blocking=False):
                return self._keys
        else:
            self._lock.acquire()
        try:
            return self._refresh_locked(wanted_kid)
        finally:
            self._lock.release()

    def _refresh_locked(self, wanted_kid: str | None) -> dict[str, PyJWK]:
        now = self.clock()
        self._adopt_shared()
        fresh = self._is_fresh(now)
        if wanted_kid is None and fresh:
            return self._keys
        if wanted_kid is not None and wanted_kid in self._keys:
            return self._keys
        if self._may_fetch(now, self._interval()):
            self._fetch_and_store(now)
        elif not fresh:
            self._check_after = now + self._interval()
        if not self._keys:
            raise KeysUnavailable("The signing keys could not be fetched.")
        return self._keys

    def _is_fresh(self, now: float) -> bool:
        ttl = auth_settings.JWKS_CACHE_TTL
        return self._fetched_at is not None and now < self._fetched_at + ttl

    def _interval(self) -> float:
        return auth_settings.JWKS_MIN_REFETCH_INTERVAL

    def _adopt_shared(self) -> None:
        """Use the key set another thread or replica stored, if newer than ours."""
        entry = self._cache_call("get", self.cache_key)
        try:
            fetched_at, payload = entry["fetched_at"], entry["jwks"]
        except (KeyError, TypeError):
            return
        if (self._fetched_at or 0) >= fetched_at:
            return
        try:
            self._use(parse_jwks(payload), fetched_at)
        except FetchFailed:
            self._cache_call("delete", self.cache_key)

    def _fetch_and_store(self, now: float) -> None:
        outcome = "error"
        try:
            payload = fetch_jwks(self.url)
            outcome = "unusable"
            keys = parse_jwks(payload)
        except FetchFailed as exc:
            metrics.record_jwks_fetch(outcome)
            logger.warning(
                "JWKS fetch from %s failed (%s); keeping %d cached key(s)",
                self.url,
                exc,
                len(self._keys),
            )
            self._check_after = now + self._interval()
            return
        entry = {"jwks": payload, "fetched_at": now}
        self._cache_call("set", self.cache_key, entry, timeout=None)
        self._use(keys, now)
        metrics.record_jwks_fetch("success")
        logger.info("JWKS fetched from %s: %d key(s)", self.url, len(keys))

    def _use(self, keys: dict[str, PyJWK], fetched_at: float) -> None:
        self._keys = keys
        self._fetched_at = fetched_at
        metrics.set_jwks_fetched_at(fetched_at)
        self._check_after = fetched_at + auth_settings.JWKS_CACHE_TTL


def fetch_jwks(url: str) -> dict[str, Any]:
    """Return the JSON object served at ``url``; raise ``FetchFailed`` otherwise."""
    payload = fetch_json(
        url, timeout=auth_settings.JWKS_TIMEOUT, max_bytes=MAX_JWKS_BYTES
    )
    if not isinstance(payload, dict):
        raise FetchFailed("response is not a JSON object")
    return payload


def parse_jwks(payload: dict[str, Any]) -> dict[str, PyJWK]:
    """Return the usable signing keys of a JWKS by kid.

    Raise ``FetchFailed`` if there is none.
    """
    try:
        jwk_set = PyJWKSet.from_dict(payload)
    except (PyJWTError, TypeError, ValueError, AttributeError) as exc:
        raise FetchFailed(f"unusable key set: {exc}") from exc
    allowed = set(auth_settings.ALGORITHMS)
    keys = {
        key.key_id: key
        for key in jwk_set.keys
        if isinstance(key.key_id, str)
        and key.public_key_use in ("sig", None)
        and key.algorithm_name in allowed
    }
    if not keys:
        raise FetchFailed("no usable signing key")
    return keys


_clients = ClientRegistry(JWKSClient)


def get_jwks_client(url: str | None = None) -> JWKSClient:
    """Return the process-wide client for ``url`` (default ``JWKS_URL``)."""
    return _clients.get(url or auth_settings.JWKS_URL)


def reset_jwks_clients() -> None:
    """Forget every client's in-process keys (tests; the Django cache is kept)."""
    _clients.clear()
