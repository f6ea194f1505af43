"""The gateway's revocations, fetched from its feed and cached.

The gateway publishes ``GET /auth/revocations/?since=<epoch>``: ``{"time",
"window", "revocations": [{"sub", "not_before"}], "tokens": [{"jti", "exp"}]}``.
A token whose ``sub`` is listed and whose ``iat`` is not after ``not_before`` is
refused; so is a token whose ``jti`` is listed (revoked by itself, RFC 7009),
until its ``exp``, after which the entry is forgotten. Like
``shared_auth.jwks``, this client keeps:

- the list in process memory (a dict lookup per request, no I/O) and in the
  Django cache, so replicas sharing it make one fetch per interval between
  them;
- a refresh at most once per ``REVOCATION_INTERVAL`` seconds, lazily, on the
  first request after the interval: one thread fetches (bounded timeouts),
  the others go on with the list they have; only a process that never had a
  list waits for the first fetch;
- on failure, the last list, with a warning; with ``REVOCATION_FAIL_CLOSED``
  a list older than ``REVOCATION_MAX_AGE`` makes ``not_before`` raise
  ``RevocationsUnavailable`` (503) instead;
- incremental fetches (``since`` = the feed's last ``time``), subject entries
  dropped once older than the feed's ``window`` and token entries once their
  ``exp`` has passed (no token they concern is alive).

The bounded fetch, the cache calls, the throttle and the per-URL registry are
``shared_auth.remote``'s, shared with ``shared_auth.jwks``.
"""

import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shared_auth import metrics
from shared_auth.conf import auth_settings
from shared_auth.remote import ClientRegistry, FetchFailed, RemoteClient, fetch_json

logger = logging.getLogger(__name__)

MAX_FEED_BYTES = 10_000_000
MAX_JTI_LENGTH = 255
# How soon to look at the shared cache again while a replica is fetching.
_RECHECK_SECONDS = 0.25


class RevocationsUnavailable(Exception):
    """Fail-closed: the list is older than ``REVOCATION_MAX_AGE`` (503)."""


@dataclass(frozen=True)
class RevocationList:
    """One version of the list: ``sub`` -> ``not_before`` (epoch seconds).

    ``tokens`` maps each token revoked by itself (``jti``) to its ``exp``;
    ``time`` is the feed's clock when it answered (the next ``since``);
    ``fetched_at`` the fetching process's clock at that moment.
    """

    entries: Mapping[str, float]
    time: float
    fetched_at: float
    tokens: Mapping[str, float] = field(default_factory=dict)

    def as_cache_entry(self) -> dict[str, Any]:
        return {
            "entries": dict(self.entries),
            "tokens": dict(self.tokens),
            "time": self.time,
            "fetched_at": self.fetched_at,
        }

    @classmethod
    def from_cache_entry(cls, entry: Any) -> "RevocationList | None":
        """Return the list stored by ``as_cache_entry``, or None if unusable."""
        try:
            return cls(
                dict(entry["entries"]),
                entry["time"],
                entry["fetched_at"],
                dict(entry.get("tokens") or {}),
            )
        except (KeyError, TypeError, ValueError):
            return None


class RevocationClient(RemoteClient):
    """The revocation list of one feed URL, safe to share between threads.

    ``clock`` (wall time, seconds) can be swapped in tests. Settings are read
    on use.
    """

    cache_name = "revocations"
    log_name = "Revocation"
    logger = logging.getLogger(__name__)

    def __init__(self, url: str, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__(url, clock=clock)
        self._list: RevocationList | None = None

    def not_before(self, sub: str) -> float | None:
        """Return the time up to which ``sub``'s tokens are revoked, or None.

        Refresh the list first if the interval has passed. Raise
        ``RevocationsUnavailable`` if failing closed and the list is too old.
        """
        now = self.clock()
        if now >= self._check_after:
            self._refresh()
        current = self._list
        if auth_settings.REVOCATION_FAIL_CLOSED and (
            current is None
            or now - current.fetched_at > auth_settings.REVOCATION_MAX_AGE
        ):
            raise RevocationsUnavailable("The revocation list is too old.")
        return None if current is None else current.entries.get(sub)

    def is_token_revoked(self, jti: Any) -> bool:
        """Return True if the token ``jti`` was revoked and has not expired.

        Reads the list ``not_before`` just brought up to date (call it first):
        a dict lookup, no I/O.
        """
        current = self._list
        if current is None or not isinstance(jti, str):
            return False
        exp = current.tokens.get(jti)
        return exp is not None and exp > self.clock()

    @property
    def current(self) -> RevocationList | None:
        """Return the list this process holds (None before the first fetch)."""
        return self._list

    def _refresh(self) -> None:
        """Bring the list up to date, unless another thread is doing it."""
        if not self._lock.acquire(blocking=self._list is None):
            return
        try:
            self._refresh_locked(self.clock())
        finally:
            self._lock.release()

    def _refresh_locked(self, now: float) -> None:
        if now < self._check_after:
            return  # another thread refreshed while we waited
        interval = auth_settings.REVOCATION_INTERVAL
        self._adopt_shared()
        if self._list is not None and now < self._list.fetched_at + interval:
            self._check_after = self._list.fetched_at + interval
        elif self._may_fetch(now, interval):
            self._fetch_and_store(now)
            self._check_after = now + interval
        else:  # a replica is fetching: look at the shared cache again soon
            self._check_after = now + min(interval, _RECHECK_SECONDS)

    def _adopt_shared(self) -> None:
        """Use the list another thread or replica stored, if newer than ours."""
        shared = RevocationList.from_cache_entry(
            self._cache_call("get", self.cache_key)
        )
        if shared is not None and (
            self._list is None or shared.fetched_at > self._list.fetched_at
        ):
            self._list = shared
            metrics.set_revocations_fetched_at(shared.fetched_at)

    def _fetch_and_store(self, now: float) -> None:
        held = self._list
        try:
            answer = fetch_revocations(self.url, since=held.time if held else None)
        except FetchFailed as exc:
            metrics.record_revocation_fetch("error")
            logger.warning(
                "Revocation feed %s failed (%s); keeping the last list: "
                "%d subject(s), %.1f s old",
                self.url,
                exc,
                len(held.entries) if held else 0,
                now - held.fetched_at if held else math.inf,
            )
            return
        fresh = merge(held, answer, fetched_at=now)
        self._cache_call("set", self.cache_key, fresh.as_cache_entry(), timeout=None)
        self._list = fresh
        metrics.record_revocation_fetch("success")
        metrics.set_revocations_fetched_at(fresh.fetched_at)
        logger.debug(
            "Revocation list: %d subject(s), %d token(s)",
            len(fresh.entries),
            len(fresh.tokens),
        )


def merge(
    held: RevocationList | None, answer: dict[str, Any], *, fetched_at: float
) -> RevocationList:
    """Return ``held`` updated with a feed ``answer``, without outdated entries.

    A subject entry is outdated once older than the feed's ``window``, a
    token entry once its ``exp`` is past (by the feed's clock).
    """
    entries = dict(held.entries) if held is not None else {}
    for entry in answer["revocations"]:
        sub, not_before = entry["sub"], entry["not_before"]
        entries[sub] = max(not_before, entries.get(sub, not_before))
    tokens = dict(held.tokens) if held is not None else {}
    tokens.update((e["jti"], e["exp"]) for e in answer.get("tokens", ()))
    oldest = answer["time"] - answer["window"]
    return RevocationList(
        {sub: nb for sub, nb in entries.items() if nb > oldest},
        time=answer["time"],
        fetched_at=fetched_at,
        tokens={jti: exp for jti, exp in tokens.items() if exp > answer["time"]},
    )


def fetch_revocations(url: str, *, since: float | None) -> dict[str, Any]:
    """Return the feed's valid answer; raise ``FetchFailed`` otherwise."""
    token = auth_settings.REVOCATION_TOKEN
    if not token:
        raise FetchFailed("no REVOCATION_TOKEN is set")
    payload = fetch_json(
        url,
        timeout=auth_settings.REVOCATION_TIMEOUT,
        max_bytes=MAX_FEED_BYTES,
        headers={"Authorization": f"Bearer {token}"},
        params=None if since is None else {"since": repr(since)},
    )
    try:
        return _valid_answer(payload)
    except (ValueError, TypeError, KeyError) as exc:
        raise FetchFailed("unusable response") from exc


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError("not a number")
    if not math.isfinite(value):
        raise ValueError("not finite")
    return float(value)


def _valid_answer(payload: Any) -> dict[str, Any]:
    """Return ``payload`` with checked types; raise ``ValueError``/``TypeError``."""
    revocations = payload["revocations"]
    if not isinstance(revocations, list):
        raise TypeError("revocations is not a list")
    entries = []
    for entry in revocations:
        if not isinstance(entry["sub"], str):
            raise TypeError("sub is not a string")
        entries.append(
            {"sub": entry["sub"], "not_before": _number(entry["not_before"])}
        )
    tokens = payload.get("tokens", [])
    if not isinstance(tokens, list):
        raise TypeError("tokens is not a list")
    revoked = []
    for entry in tokens:
        jti = entry["jti"]
        if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_LENGTH:
            raise TypeError("jti is not a sane string")
        revoked.append({"jti": jti, "exp": _number(entry["exp"])})
    return {
        "time": _number(payload["time"]),
        "window": _number(payload["window"]),
        "revocations": entries,
        "tokens": revoked,
    }


_clients = ClientRegistry(RevocationClient)


def get_revocation_client(url: str | None = None) -> RevocationClient:
    """Return the process-wide client for ``url`` (default ``REVOCATION_URL``)."""
    return _clients.get(url or auth_settings.REVOCATION_URL)


def reset_revocation_clients() -> None:
    """Forget every client's in-process list (tests; the Django cache is kept)."""
    _clients.clear()
