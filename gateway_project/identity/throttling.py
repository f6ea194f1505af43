"""Login throttling: failed logins per username, per OAuth client id and per address.

DRF's ``SimpleRateThrottle`` counts every request; these count only failures
(``record_failure``), and refuse a login once the rate is reached, whether the
username exists or not. Counters live in the ``login_throttle`` Django cache
(Redis when ``REDIS_URL`` is set, else files: shared by every worker). The
client address is DRF's ``get_ident``, which trusts only ``NUM_PROXIES``
entries of ``X-Forwarded-For``.

Identifiers are keyed through ``normalise_identifier`` (NFKC, strip, casefold):
Django's login form NFKC-normalises and strips the username, DRF's ``CharField``
strips it, so ``" admin"``, ``"admin\t"`` and the full-width ``"ａｄｍｉｎ"`` all
log in as ``admin``; the key folds at least as much as authentication does
(case too), so every spelling that can reach an account shares its counter.

When that cache fails (Redis down), a login is neither refused with a 500 nor
let through uncounted: the throttle counts in this process's own memory until
the next request, which tries the shared cache again.
"""

import hashlib
import logging
import unicodedata
from collections.abc import Mapping
from typing import Any

from django.core.cache import BaseCache, caches
from django.core.cache.backends.locmem import LocMemCache
from django.http import HttpRequest
from rest_framework.exceptions import APIException
from rest_framework.throttling import SimpleRateThrottle

logger = logging.getLogger(__name__)

CACHE_ALIAS = "login_throttle"
# This process's counters while the shared cache is down.
_FALLBACK = LocMemCache("login-throttle-fallback", {"OPTIONS": {"MAX_ENTRIES": 10000}})


class LoginFailureThrottle(SimpleRateThrottle):
    """Refuse a login once ``rate`` failures were recorded for its key."""

    shared = True

    @property
    def cache(self) -> BaseCache:
        """Return the ``login_throttle`` cache, shared by every worker process
        (this process's own while the shared one fails)."""
        return caches[CACHE_ALIAS] if self.shared else _FALLBACK

    def _fall_back(self) -> None:
        logger.warning(
            "login throttle: the shared cache failed; counting in this process",
            exc_info=True,
        )
        self.shared = False

    def allow_request(self, request: HttpRequest, view: Any) -> bool:
        """Return DRF's answer, from this process's counters if the cache fails."""
        try:
            return super().allow_request(request, view)
        except APIException:  # the request's own fault (a body that does not parse)
            raise
        except Exception:  # any cache backend's failure
            self._fall_back()
            return super().allow_request(request, view)

    def throttle_success(self) -> bool:
        """Let the request through without counting it (only failures count)."""
        return True

    def record_failure(self) -> None:
        """Count one failed login for this request's key."""
        if self.rate is None or self.key is None:
            return
        self.history.insert(0, self.now)
        try:
            self.cache.set(self.key, self.history, self.duration)
        except Exception:  # any cache backend's failure
            self._fall_back()
            self.cache.set(self.key, self.history, self.duration)


def normalise_identifier(value: object) -> str:
    """Return ``value`` as a throttle identity: NFKC, stripped, casefolded."""
    return unicodedata.normalize("NFKC", str(value)).strip().casefold()


def identifier_key(throttle: SimpleRateThrottle, value: object) -> str:
    """Return ``throttle``'s cache key for the identifier ``value`` (hashed)."""
    digest = hashlib.sha256(normalise_identifier(value).encode()).hexdigest()
    return throttle.cache_format % {"scope": throttle.scope, "ident": digest}


class UsernameLoginThrottle(LoginFailureThrottle):
    """Failed logins for one username (``normalise_identifier``), from any address."""

    scope = "login_username"

    def get_cache_key(self, request: HttpRequest, view: Any) -> str | None:
        data = getattr(request, "data", None)
        if data is None:  # a plain Django request: the admin's login form
            data = request.POST
        username = data.get("username") if isinstance(data, Mapping) else None
        if username is None or username == "":
            return None
        return identifier_key(self, username)


class IPLoginThrottle(LoginFailureThrottle):
    """Failed logins from one client address, for any username."""

    scope = "login_ip"

    def get_cache_key(self, request: HttpRequest, view: Any) -> str | None:
        return self.cache_format % {
            "scope": self.scope,
            "ident": self.get_ident(request),
        }


class ClientIdThrottle(LoginFailureThrottle):
    """Failed client authentications for one OAuth client id, from any address."""

    scope = "oauth_client"

    def __init__(self, client_id: str | None) -> None:
        self.client_id = client_id
        super().__init__()

    def get_cache_key(self, request: HttpRequest, view: Any) -> str | None:
        if not self.client_id:
            return None
        return identifier_key(self, self.client_id)


LOGIN_THROTTLES = (UsernameLoginThrottle, IPLoginThrottle)
