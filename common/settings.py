"""Settings shared by the three projects.

Each project's ``settings`` module star-imports this one and adds what only it
needs (its URLconf and database). Every value comes from the
environment, with a default that works on a laptop; nothing here is read at
request time.
"""

import os
import secrets
from pathlib import Path

import dj_database_url

from common.services import SERVICES
from shared_auth.checks import INSECURE_TOKEN_PREFIX

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool = False) -> bool:
    """Return the boolean value of environment variable ``name``."""
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    """Return the comma-separated environment variable ``name`` as a list."""
    return [
        item.strip()
        for item in os.environ.get(name, default).split(",")
        if item.strip()
    ]


def _dev_secret(name: str, prefix: str = "", nbytes: int = 32) -> str:
    """Return the random secret kept in ``VAR_DIR/<name>``, made on first use.

    A new secret starts with ``prefix``.

    Return "" if ``VAR_DIR`` cannot be written (a read-only container: the
    variable must then be set).
    """
    path = VAR_DIR / name
    try:
        if not path.exists():  # written whole, then linked: never read half-made
            VAR_DIR.mkdir(parents=True, exist_ok=True)
            tmp = VAR_DIR / f".{name}.{os.getpid()}.tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(prefix + secrets.token_urlsafe(nbytes))
            try:
                os.link(tmp, path)
            except FileExistsError:  # another process made it first
                pass
            finally:
                tmp.unlink(missing_ok=True)
        return path.read_text().strip()
    except OSError:
        return ""


def database(env_name: str, project: str) -> dict:
    """Return the ``DATABASES['default']`` entry for ``project`` from ``env_name``."""
    config = dj_database_url.config(
        env=env_name,
        default=f"sqlite:///{VAR_DIR / f'{project}.sqlite3'}",
        conn_max_age=int(os.environ.get("DJANGO_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # Connections persist as with the other engines (one per thread: Django
        # never shares one across threads), sparing each request a new connection
        # and its PRAGMAs (README "Performance").
        # Threads of one gunicorn worker write concurrently: take the write lock
        # at BEGIN and wait for it rather than failing with "database is locked".
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    return config


DEBUG = env_bool("DJANGO_DEBUG")
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or _dev_secret("secret_key", nbytes=50)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")

# HTTPS (docs/configuration.md "HTTPS"). With DEBUG off every switch defaults on,
# as in production, where TLS ends at the Ingress: its X-Forwarded-Proto is
# honoured from TRUSTED_PROXIES only (shared_auth.forwarded; there is no
# SECURE_PROXY_SSL_HEADER, which would believe any client). DJANGO_HTTPS=0 turns
# the defaults off where a project runs on plain http with DEBUG off (the tests,
# make bench, the e2e stack); each switch can still be set on its own.
_https = env_bool("DJANGO_HTTPS", not DEBUG)
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", _https)
# Probes, scrapes and in-cluster calls (the services fetching the JWKS and
# polling the revocation feed) come over plain http.
SECURE_REDIRECT_EXEMPT = [
    r"^healthz$",
    r"^readyz$",
    r"^metrics$",
    r"^\.well-known/",
    r"^auth/revocations/$",
]
# As cookiecutter-django: 60 s until the operator raises it (production: a year).
SECURE_HSTS_SECONDS = int(
    os.environ.get("DJANGO_SECURE_HSTS_SECONDS") or (60 if _https else 0)
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool(
    "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", _https
)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", _https)
SESSION_COOKIE_SECURE = env_bool("DJANGO_SESSION_COOKIE_SECURE", _https)
CSRF_COOKIE_SECURE = env_bool("DJANGO_CSRF_COOKIE_SECURE", _https)
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")
# e.g. "security.W008" on the services, which only answer in-cluster plain http.
SILENCED_SYSTEM_CHECKS = env_list("DJANGO_SILENCED_SYSTEM_CHECKS", "")

JWT_ISSUER = os.environ.get("JWT_ISSUER", "http://127.0.0.1:8000").rstrip("/")
# Where the services call the gateway (the JWKS, the revocation feed, the token
# exchange): its internal listener (GATEWAY_INTERNAL_BIND, common/serve.py), so
# that those calls never queue behind the proxied requests waiting for them.
_internal_url = os.environ.get("GATEWAY_INTERNAL_URL", "").rstrip("/")
GATEWAY_INTERNAL_URL = _internal_url or JWT_ISSUER
JWT_JWKS_URL = os.environ.get(
    "JWT_JWKS_URL", f"{GATEWAY_INTERNAL_URL}/.well-known/jwks.json"
)
# Revocation feed (README "Revocation"): the gateway publishes it, the services
# read it with this shared credential. Unset, a random one is kept in VAR_DIR, so
# the three projects of one checkout agree; set it in production (a Secret):
# `check --deploy` warns about the local one (shared_auth.W001, by its prefix).
REVOCATION_FEED_URL = os.environ.get(
    "REVOCATION_FEED_URL", f"{GATEWAY_INTERNAL_URL}/auth/revocations/"
)
REVOCATION_FEED_TOKEN = os.environ.get("REVOCATION_FEED_TOKEN") or _dev_secret(
    "revocation_feed_token", prefix=INSECURE_TOKEN_PREFIX
)
# The orders service's OAuth client "orders" (it exchanges the caller's token for
# one meant for customers, RFC 8693). Unset, a random secret is kept in VAR_DIR
# and the gateway's seed_demo provisions the client with it; set it in
# production (a Secret shared by the gateway's provisioning and orders).
ORDERS_CLIENT_ID = os.environ.get("ORDERS_CLIENT_ID", "orders")
ORDERS_CLIENT_SECRET = os.environ.get("ORDERS_CLIENT_SECRET") or _dev_secret(
    "orders_client_secret", prefix=INSECURE_TOKEN_PREFIX
)
# Each service's base URL, <NAME>_SERVICE_URL (common/services.py lists them).
SERVICE_URLS = {
    name: os.environ.get(f"{name.upper()}_SERVICE_URL", f"http://127.0.0.1:{port}")
    for name, port in SERVICES.items()
}
ORDERS_SERVICE_URL = SERVICE_URLS["orders"]
CUSTOMERS_SERVICE_URL = SERVICE_URLS["customers"]
# Peers whose X-Forwarded-Host/-Proto are honoured (shared_auth.forwarded): the
# services trust the gateway's address; the gateway sets its own (none).
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", "127.0.0.1,::1")

# GET /metrics (docs/observability.md): off answers 404. With METRICS_TOKEN set
# (production: a Secret) callers need it as a bearer token; unset, only loopback
# callers are answered.
METRICS_ENABLED = env_bool("METRICS_ENABLED", True)
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "shared_auth",
]

MIDDLEWARE = [
    "shared_auth.middleware.RequestIdMiddleware",
    "shared_auth.forwarded.TrustedForwardedMiddleware",
    # Before the gateway's proxy fast path (right after SecurityMiddleware), so
    # that every HTML page gets the policy.
    "common.middleware.ContentSecurityPolicyMiddleware",
    "common.metrics.MetricsEndpointMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# The Content-Security-Policy of every HTML page (admin, browsable API, Swagger
# UI; common.middleware): everything from the page's own origin, no inline or
# eval'd script, no plugins, no framing. Inline styles are allowed: the admin's
# and DRF's templates have style attributes. "" sends none. docs/security.md.
CONTENT_SECURITY_POLICY = os.environ.get(
    "DJANGO_CONTENT_SECURITY_POLICY",
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'",
)

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # Overrides of third-party templates (rest_framework/api.html: CSP).
        "DIRS": [BASE_DIR / "common" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # Keeps projects (and parallel test runs) sharing one Redis apart.
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", ""),
            # Passed to redis-py's connection pool: never wait forever on Redis.
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

_VALIDATORS = "django.contrib.auth.password_validation"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"{_VALIDATORS}.UserAttributeSimilarityValidator"},
    {"NAME": f"{_VALIDATORS}.MinimumLengthValidator"},
    {"NAME": f"{_VALIDATORS}.CommonPasswordValidator"},
    {"NAME": f"{_VALIDATORS}.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# The admin's and the browsable API's assets, served by the app server itself
# (whitenoise). With DJANGO_STATIC_ROOT set (the container image runs collectstatic
# into it at build time) the collected, hashed and compressed files are served;
# unset (a checkout, the tests), the files are served from the apps' static dirs.
STATIC_ROOT = os.environ.get("DJANGO_STATIC_ROOT") or None
WHITENOISE_USE_FINDERS = STATIC_ROOT is None
if STATIC_ROOT:
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {
            "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        },
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REST_FRAMEWORK = {
    # JSON with bounds on size, depth, keys and strings (docs/security.md).
    "DEFAULT_PARSER_CLASSES": [
        "common.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "UNAUTHENTICATED_USER": None,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "shared_auth.log_filters.RequestIdFilter"}},
    "formatters": {
        "default": {
            "format": "%(asctime)s %(levelname)s [%(request_id)s] "
            "[trace=%(trace_id)s] [%(username)s] %(name)s: %(message)s"
        }
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id"],
            "formatter": "default",
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
