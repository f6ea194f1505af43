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
"""

import logging
import threading
import time
import uuid
from collections.abc import Callable

from django.core.cache import caches
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
            entries = subject_revocation_times(now=now)
            self._tokens = revoked_token_ids(now=now)
            self._entries, self._revision = entries, revision
            self._loaded_at = self.clock()

    def forget(self) -> None:
        """Drop the list; the next check reloads it (tests)."""
        with self._lock:
            self._revision, self._entries, self._tokens = None, {}, {}


def current_revision() -> str:
    """Return the shared revision, creating one if the cache has none."""
    cache = caches[CACHE_ALIAS]
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
        caches[CACHE_ALIAS].set(REVISION_KEY, uuid.uuid4().hex, timeout=None)
    except Exception as exc:  # any cache backend's failure
        logger.warning(
            "Revocation revision not written (%s); workers reload within %d s",
            type(exc).__name__,
            MAX_AGE,
        )


memo = RevocationMemo()
