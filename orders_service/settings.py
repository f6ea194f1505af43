"""Settings of the orders service."""

import os
from datetime import timedelta

from common.settings import *  # noqa: F403
from common.settings import (
    INSTALLED_APPS,
    ORDERS_CLIENT_ID,
    ORDERS_CLIENT_SECRET,
    REST_FRAMEWORK,
    database,
)

PROJECT = "orders"
ROOT_URLCONF = "orders_service.urls"
WSGI_APPLICATION = "orders_service.wsgi.application"
DATABASES = {"default": database("ORDERS_DATABASE_URL", PROJECT)}

INSTALLED_APPS = [
    *INSTALLED_APPS,
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "orders_service.orders",
]

# shared_auth verifies every request's bearer token itself (see shared_auth/conf.py
# for every key and its default; ISSUER and JWKS_URL default to JWT_ISSUER and
# JWT_JWKS_URL).
# The orders service calls customers with tokens exchanged at the gateway's
# token endpoint as OAuth client ORDERS_CLIENT_ID (docs/delegation.md).
SHARED_AUTH = {
    "AUDIENCE": PROJECT,
    "CLIENT_ID": ORDERS_CLIENT_ID,
    "CLIENT_SECRET": ORDERS_CLIENT_SECRET,
}

REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_AUTHENTICATION_CLASSES": ["shared_auth.authentication.JWTAuthentication"],
    "DEFAULT_SCHEMA_CLASS": "common.schema.ErrorsAutoSchema",
    "DEFAULT_PAGINATION_CLASS": "common.api.CappedPageNumberPagination",
    "EXCEPTION_HANDLER": "orders_service.orders.api_errors.exception_handler",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Orders service",
    "DESCRIPTION": (
        "Orders that reserve customer credit. "
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

# How long an Idempotency-Key is remembered (manage.py purge; docs/operations.md).
IDEMPOTENCY_KEY_RETENTION = timedelta(
    seconds=int(os.environ.get("IDEMPOTENCY_KEY_RETENTION_SECONDS", "86400"))
)
