"""Settings of the gateway: login, token issuing, JWKS, admin and the proxy."""

import os
from datetime import timedelta
from pathlib import Path

from common.settings import *  # noqa: F403
from common.settings import (
    CACHES,
    INSTALLED_APPS,
    JWT_ISSUER,
    MIDDLEWARE,
    REDIS_URL,
    REST_FRAMEWORK,
    SECURE_REDIRECT_EXEMPT,
    SERVICE_URLS,
    SERVICES,
    VAR_DIR,
    database,
    env_list,
)

PROJECT = "gateway"
ROOT_URLCONF = "gateway_project.urls"
WSGI_APPLICATION = "gateway_project.wsgi.application"
DATABASES = {"default": database("GATEWAY_DATABASE_URL", PROJECT)}

INSTALLED_APPS = [
    *INSTALLED_APPS,
    "gateway_project.identity",
    "gateway_project.oauth",
    "gateway_project.proxy",
    # manage.py startservice (README "Layout").
    "gateway_project.scaffold",
    # The developer portal, /api/docs/ (its Swagger UI assets: the sidecar).
    "gateway_project.portal",
]
INSTALLED_APPS += [
    app
    for app in ("drf_spectacular", "drf_spectacular_sidecar")
    if app not in INSTALLED_APPS  # common/settings.py may list them already
]

# -- Identity: token issuing (simplejwt), signing keys, login throttling ---------
# README "Tokens and keys". Tokens are signed with the newest private key in
# JWT_SIGNING_KEYS_DIR (created on first use); simplejwt's ALGORITHM/SIGNING_KEY
# are not used for that (gateway_project.identity.tokens signs and verifies).
INSTALLED_APPS += ["rest_framework_simplejwt.token_blacklist"]
JWT_SIGNING_KEYS_DIR = Path(os.environ.get("JWT_SIGNING_KEYS_DIR") or VAR_DIR / "keys")
# Algorithm of newly created keys: RS256, ES256 or EdDSA (never HS*).
JWT_SIGNING_ALGORITHM = os.environ.get("JWT_SIGNING_ALGORITHM", "RS256")
# A login token's audience: every service (common/services.py).
JWT_AUDIENCE = env_list("JWT_AUDIENCE", ",".join(SERVICES))
# Cache-Control max-age of the JWKS and openid-configuration documents.
JWKS_MAX_AGE = int(os.environ.get("JWKS_MAX_AGE", "60"))
_IDENTITY = "gateway_project.identity"
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(
        seconds=int(os.environ.get("JWT_ACCESS_TOKEN_LIFETIME", "300"))
    ),
    "REFRESH_TOKEN_LIFETIME": timedelta(
        seconds=int(os.environ.get("JWT_REFRESH_TOKEN_LIFETIME", "86400"))
    ),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    # simplejwt's own backend is never used; these make it fail rather than HS256.
    "ALGORITHM": "RS256",
    "SIGNING_KEY": None,
    "AUDIENCE": JWT_AUDIENCE,
    "ISSUER": JWT_ISSUER,
    "LEEWAY": 5,
    "USER_ID_CLAIM": "sub",
    "AUTH_TOKEN_CLASSES": (f"{_IDENTITY}.tokens.AccessToken",),
    "TOKEN_OBTAIN_SERIALIZER": f"{_IDENTITY}.serializers.TokenObtainPairSerializer",
    "TOKEN_REFRESH_SERIALIZER": f"{_IDENTITY}.serializers.TokenRefreshSerializer",
    "TOKEN_VERIFY_SERIALIZER": f"{_IDENTITY}.serializers.TokenVerifySerializer",
    "TOKEN_BLACKLIST_SERIALIZER": f"{_IDENTITY}.serializers.LogoutSerializer",
}
# -- OAuth 2.0 for machine clients (docs/machine-clients.md) ----------------------
# Every scope a token can carry (RFC 8414 scopes_supported; create_client refuses
# others), the scope of a login token, and the first-party client_id of login
# tokens (RFC 9068).
OAUTH_SCOPES = env_list(
    "OAUTH_SCOPES",
    "orders:read,orders:write,customers:read,customers:write,reservations:write",
)
LOGIN_SCOPE = os.environ.get(
    "LOGIN_SCOPE", "orders:read orders:write customers:read customers:write"
)
FIRST_PARTY_CLIENT_ID = "gateway"
# The services call the OAuth endpoints in-cluster over plain http (like the
# revocation feed); outside, the Ingress redirects to https before the gateway,
# and a redirect would not unsend a secret anyway.
SECURE_REDIRECT_EXEMPT = [*SECURE_REDIRECT_EXEMPT, r"^auth/oauth/"]
# Token exchange delegates a scope only if the subject token holds it, or holds
# one that implies it here: a user who may write orders (orders:write) lets the
# orders service reserve credit for them (reservations:write), a scope no login
# token carries itself.
OAUTH_IMPLIED_SCOPES = {"reservations:write": ["orders:write"]}
# Failed-login counters must be shared by every worker process (and replica):
# the Redis cache when REDIS_URL is set, else files under VAR_DIR (a local
# memory cache would give each gunicorn worker its own counters).
CACHES = {
    **CACHES,
    "login_throttle": CACHES["default"]
    if REDIS_URL
    else {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": VAR_DIR / "cache" / "login_throttle",
        "OPTIONS": {"MAX_ENTRIES": 10000},
    },
    # The revision of the subject revocations (README "Revocation"): every
    # worker and replica must see a change at once, so shared like the above.
    "revocations": CACHES["default"]
    if REDIS_URL
    else {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": VAR_DIR / "cache" / "revocations",
    },
}
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    # Every error {"detail", "code"}, validation errors included.
    "EXCEPTION_HANDLER": "common.exception_handlers.json_exception_handler",
    # Proxies in front of the gateway that append to X-Forwarded-For; 0 trusts
    # none of it (the client address is REMOTE_ADDR), so it cannot be spoofed.
    "NUM_PROXIES": int(os.environ.get("NUM_PROXIES", "0")),
    # The portal describes the gateway's own /auth/ endpoints (drf-spectacular).
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_RATES": {
        "login_username": os.environ.get("LOGIN_FAILURES_PER_USERNAME", "5/min"),
        "login_ip": os.environ.get("LOGIN_FAILURES_PER_IP", "20/min"),
        "oauth_client": os.environ.get("OAUTH_CLIENT_FAILURES_PER_ID", "5/min"),
    },
}

# -- Proxy: /api/<service>/... forwarded to the services (gateway_project/proxy) --
# Read through gateway_project.proxy.conf (its defaults; a bad value is the system
# check proxy.E001). Path prefix -> upstream base URL; anything else under /api/
# is a 404 at the gateway. GATEWAY_PROXY_ROUTES ("prefix=url,...") replaces the
# table as a whole; by default /api/<name>/ for each service of
# common/services.py. An entry without "=" gets no URL, which the check reports.
GATEWAY_PROXY = {
    "ROUTES": dict(
        route.partition("=")[::2]
        for route in env_list(
            "GATEWAY_PROXY_ROUTES",
            ",".join(f"/api/{name}/={url}" for name, url in SERVICE_URLS.items()),
        )
    ),
    # Seconds: to connect, to wait for each read, to wait for a free connection.
    "CONNECT_TIMEOUT": float(os.environ.get("GATEWAY_PROXY_CONNECT_TIMEOUT", "3")),
    "READ_TIMEOUT": float(os.environ.get("GATEWAY_PROXY_READ_TIMEOUT", "30")),
    "POOL_TIMEOUT": float(os.environ.get("GATEWAY_PROXY_POOL_TIMEOUT", "3")),
    # Connections per upstream and worker process; by default three quarters of
    # the worker's threads, so one slow service cannot hold every thread.
    "POOL_SIZE": int(
        os.environ.get("GATEWAY_PROXY_POOL_SIZE")
        or max(1, int(os.environ.get("GUNICORN_THREADS", "4")) * 3 // 4)
    ),
    # Larger request bodies are refused with 413 before anything is forwarded.
    "MAX_BODY_SIZE": int(os.environ.get("GATEWAY_PROXY_MAX_BODY_SIZE", "10485760")),
}
# -- Portal: /api/docs/, one OpenAPI document for the gateway and its services ---
# docs/configuration.md. Each service's /api/schema/ is refetched after
# SCHEMA_TTL seconds; on failure the last good one is served and the fetch
# retried after RETRY_INTERVAL seconds.
GATEWAY_PORTAL = {
    "SCHEMA_TTL": float(os.environ.get("GATEWAY_PORTAL_SCHEMA_TTL", "60")),
    "RETRY_INTERVAL": float(os.environ.get("GATEWAY_PORTAL_RETRY_INTERVAL", "10")),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "API portal",
    "VERSION": "1.0.0",
    "OAS_VERSION": "3.1.0",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The gateway describes only its public /auth/ endpoints (the services
    # describe themselves), as well as drf-spectacular can guess them: no
    # warnings in the logs, and none from `check --deploy` (drf_spectacular.W002).
    "PREPROCESSING_HOOKS": ["gateway_project.portal.schema.public_auth_endpoints"],
    "DISABLE_ERRORS_AND_WARNINGS": True,
    "ENABLE_DJANGO_DEPLOY_CHECK": False,
}

# The proxy reads whole request bodies up to its own limit.
DATA_UPLOAD_MAX_MEMORY_SIZE = GATEWAY_PROXY["MAX_BODY_SIZE"]
# Proxies in front of the gateway whose X-Forwarded-Host/-Proto are honoured
# (shared_auth.forwarded); none by default: the gateway is the edge.
TRUSTED_PROXIES = env_list("GATEWAY_TRUSTED_PROXIES", "")
# The proxy's fast path: bearer-token /api/ requests go straight to the proxy
# view, right after SecurityMiddleware (README "Performance").
_SECURITY = MIDDLEWARE.index("django.middleware.security.SecurityMiddleware")
MIDDLEWARE = [
    *MIDDLEWARE[: _SECURITY + 1],
    "gateway_project.proxy.middleware.BearerProxyMiddleware",
    *MIDDLEWARE[_SECURITY + 1 :],
]
