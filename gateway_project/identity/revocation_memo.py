"""The gateway's revocations in process memory, kept current by a revision.

Two kinds: subjects (every token of a ``sub`` issued up to a moment) and single
access tokens (by ``jti``, RFC 7009), both reloaded together.

``GatewayJWTAuthentication`` runs on every proxied request, and a database
query there costs a connection on SQLite (about 0.8 ms) and a round trip on
PostgreSQL. Instead each process holds the revocations that can still matter
(those of the last ``revocation_window()``) and one revision string, read per
request from the ``revocations`` cache (files under ``VAR_DIR`` or Redis:
shared by every worker and replica). Every revocation sets a new revision once
its transaction commits, so the next request anywhere reloads the lists (two
queries) before checking. If the revision is missing (a cleared or evicted
cache), it is recreated and the list reloaded; if the cache fails, the check
falls back to two queries per request; and a list older than ``MAX_AGE`` is
reloaded anyway, in case a revision write was lost.

With a file-based ``revocations`` cache (no Redis: one host) the revision is
not one of the cache's files but a file of its own beside them, which every
process maps into memory (``MappedRevision``): reading it per request is a
memory read, where the cache's ``get`` opened, read and unpickled a file.
"""

import functools
import logging
import mmap
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.db import close_old_connections
from django.utils import timezone

from gateway_project.identity.selectors import (
    revoked_token_ids,
    subject_revocation_times,
    subject_token_is_revoked,
    token_is_revoked,
)

logger = logging.getLogger(__name__)

CACHE_ALIAS = "revocations"
REVISION_KEY = "identity:revocations:revision"
MAX_AGE = 30.0
FILE_BACKEND = "django.core.cache.backends.filebased.FileBasedCache"


class RevocationMemo:
    """The revocations of one process, reloaded when the shared revision changes."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._revision: str | None = None
        self._loaded_at = float("-inf")
        self._entries: dict[str, float] = {}
        self._tokens: dict[str, float] = {}

    def is_revoked(self, *, sub: str, iat: float, jti: str | None = None) -> bool:
        """Return True if tokens of ``sub`` issued at ``iat`` were revoked, or the
        token ``jti`` was revoked by itself."""
        try:
            revision = current_revision()
        except Exception as exc:  # any cache backend's failure
            logger.warning(
                "Revocation revision unreadable (%s); asking the database",
                type(exc).__name__,
            )
            with _as_a_request():
                return subject_token_is_revoked(sub=sub, iat=iat) or (
                    jti is not None and token_is_revoked(jti=jti)
                )
        if self._is_stale(revision):
            self._reload(revision)
        not_before = self._entries.get(sub)
        if not_before is not None and iat <= not_before:
            return True
        return jti is not None and jti in self._tokens

    def _is_stale(self, revision: str) -> bool:
        return revision != self._revision or self.clock() - self._loaded_at > MAX_AGE

    def _reload(self, revision: str) -> None:
        """Load the list once, however many threads saw the new revision."""
        with self._lock:
            if not self._is_stale(revision):
                return
            now = timezone.now()
            with _as_a_request():
                entries = subject_revocation_times(now=now)
                tokens = revoked_token_ids(now=now)
            self._entries, self._tokens, self._revision = entries, tokens, revision
            self._loaded_at = self.clock()

    def forget(self) -> None:
        """Drop the list; the next check reloads it (tests)."""
        with self._lock:
            self._revision, self._entries, self._tokens = None, {}, {}


@contextmanager
def _as_a_request() -> Iterator[None]:
    """Run database work between the connection checks a request gets.

    The proxy's fast path sends no ``request_started``/``request_finished``
    (``proxy.handler``), whose receivers close a connection that is broken or
    past ``CONN_MAX_AGE``; this is its only use of the database. A connection
    in a transaction is left alone (Django's rule), so elsewhere this costs at
    most one reconnection per reload.
    """
    close_old_connections()
    try:
        yield
    finally:
        close_old_connections()


class MappedRevision:
    """The revision in a file every process of the host maps into memory.

    Every mapping shows the same page of the page cache, so a ``set`` is seen
    by the next ``get`` in any process; a ``get`` that catches a write half
    done reads a value that is neither, which costs one extra reload. The file
    is mapped again every ``REMAP_SECONDS``, so one deleted or replaced under
    the gateway is picked up as a lost revision write is (``MAX_AGE``). Keys
    and timeouts are taken for the cache API's sake and ignored.
    """

    SIZE = 32  # uuid4().hex
    REMAP_SECONDS = MAX_AGE

    def __init__(
        self, path: Path, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.path = path
        self.clock = clock
        self._lock = threading.Lock()
        self._map: mmap.mmap | None = None
        self._mapped_at = float("-inf")

    def _mapped(self) -> mmap.mmap:
        if self._map is None or self.clock() - self._mapped_at > self.REMAP_SECONDS:
            with self._lock:
                self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
                try:
                    if os.fstat(fd).st_size < self.SIZE:
                        os.ftruncate(fd, self.SIZE)  # zeros: no revision yet
                    # The old mapping is left to the garbage collector: a
                    # thread may be reading it.
                    self._map = mmap.mmap(fd, self.SIZE)
                finally:
                    os.close(fd)
                self._mapped_at = self.clock()
        return self._map

    def get(self, key: str = REVISION_KEY) -> str | None:
        """Return the revision, or None if none was ever set."""
        raw = self._mapped()[: self.SIZE]
        return None if raw == bytes(self.SIZE) else raw.decode("latin-1")

    def set(self, key: str, value: str, timeout: Any = None) -> None:
        """Set the revision (``value``: 32 ASCII characters)."""
        data = value.encode("ascii")
        if len(data) != self.SIZE:
            raise ValueError(f"a revision is {self.SIZE} characters")
        self._mapped()[: self.SIZE] = data

    def add(self, key: str, value: str, timeout: Any = None) -> None:
        """Set the revision unless there is one."""
        if self.get() is None:
            self.set(key, value)


@functools.lru_cache(maxsize=4)
def _mapped_revision(location: str) -> MappedRevision:
    return MappedRevision(Path(location) / "revision")


def revision_store() -> Any:
    """Return where the revision lives: a ``MappedRevision`` beside a file-based
    ``revocations`` cache, else the cache itself (Redis: every host)."""
    config = settings.CACHES.get(CACHE_ALIAS, {})
    if config.get("BACKEND") == FILE_BACKEND:
        return _mapped_revision(str(config["LOCATION"]))
    return caches[CACHE_ALIAS]


def current_revision() -> str:
    """Return the shared revision, creating one if the store has none."""
    cache = revision_store()
    revision = cache.get(REVISION_KEY)
    if revision is None:
        cache.add(REVISION_KEY, uuid.uuid4().hex, timeout=None)
        revision = cache.get(REVISION_KEY)
    if not isinstance(revision, str):
        raise LookupError("the revocations cache keeps no revision")
    return revision


def revocations_changed() -> None:
    """Set a new revision: every process reloads the list at its next check."""
    try:
        revision_store().set(REVISION_KEY, uuid.uuid4().hex, timeout=None)
    except Exception as exc:  # any cache backend's failure
        logger.warning(
            "Revocation revision not written (%s); workers reload within %d s",
            type(exc).__name__,
            MAX_AGE,
        )


memo = RevocationMemo()
