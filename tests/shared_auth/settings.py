"""Settings for shared_auth's own tests: a service named ``orders``.

The orders service's settings, with this suite's URLconf (test views only),
without the orders app and with shared_auth's exception handler (DRF's own,
with the RFC 6750 scope challenge), so these tests depend on nothing but
shared_auth and the common settings.
"""

from common.settings import REST_FRAMEWORK as COMMON_REST_FRAMEWORK
from orders_service.settings import *  # noqa: F403
from orders_service.settings import INSTALLED_APPS

INSTALLED_APPS = [app for app in INSTALLED_APPS if app != "orders_service.orders"]
ROOT_URLCONF = "tests.shared_auth.urls"
REST_FRAMEWORK = {
    **COMMON_REST_FRAMEWORK,
    "DEFAULT_AUTHENTICATION_CLASSES": ["shared_auth.authentication.JWTAuthentication"],
    "EXCEPTION_HANDLER": "shared_auth.exceptions.exception_handler",
}
RESERVATION_ACTORS = ["orders"]
JWT_ISSUER = "https://issuer.test"
JWT_JWKS_URL = "http://127.0.0.1:9/unused-jwks.json"  # each test serves its own
REVOCATION_FEED_URL = "http://127.0.0.1:9/unused-revocations/"  # likewise
REVOCATION_FEED_TOKEN = "test-feed-token"
SHARED_AUTH = {
    "AUDIENCE": "orders",
    "JWKS_TIMEOUT": (1.0, 0.5),
    "SESSION_TIMEOUT": (1.0, 0.5),
}
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "broken": {"BACKEND": "tests.shared_auth.broken_cache.BrokenCache"},
}
