"""Settings of the customers service."""

import os
from datetime import timedelta

from common.settings import *  # noqa: F403
from common.settings import INSTALLED_APPS, REST_FRAMEWORK, database, env_list

PROJECT = "customers"
ROOT_URLCONF = "customers_service.urls"
WSGI_APPLICATION = "customers_service.wsgi.application"
DATABASES = {"default": database("CUSTOMERS_DATABASE_URL", PROJECT)}

INSTALLED_APPS = [
    *INSTALLED_APPS,
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "customers_service.customers",
]

# shared_auth verifies every request's bearer token itself (see shared_auth/conf.py
# for every key and its default; ISSUER and JWKS_URL default to JWT_ISSUER and
# JWT_JWKS_URL).
SHARED_AUTH = {"AUDIENCE": PROJECT}

# The services whose delegated tokens (act.sub) may write credit reservations
# (docs/delegation.md).
RESERVATION_ACTORS = env_list("RESERVATION_ACTORS", "orders")

REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_AUTHENTICATION_CLASSES": ["shared_auth.authentication.JWTAuthentication"],
    "DEFAULT_SCHEMA_CLASS": "common.schema.ErrorsAutoSchema",
    "DEFAULT_PAGINATION_CLASS": "common.api.CappedPageNumberPagination",
    "EXCEPTION_HANDLER": "customers_service.customers.api_errors.exception_handler",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Customers service",
    "DESCRIPTION": (
        "Customers and their credit reservations. "
        "Every call needs a gateway-issued bearer token."
    ),
    "VERSION": "1.0.0",
    # 3.1: each operation lists the bearer token scopes it needs.
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI's files from drf-spectacular-sidecar, served here (no CDN).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# How long a release's tombstone refuses a late reserve of its order (manage.py
# purge; docs/operations.md): longer than the orders' IDEMPOTENCY_KEY_RETENTION.
RELEASE_TOMBSTONE_RETENTION = timedelta(
    seconds=int(os.environ.get("RELEASE_TOMBSTONE_RETENTION_SECONDS", "604800"))
)
