"""Settings of the orders service (shared part: common.service_settings)."""

from common.service_settings import *  # noqa: F403
from common.service_settings import (
    INSTALLED_APPS,
    ORDERS_CLIENT_ID,
    ORDERS_CLIENT_SECRET,
    REST_FRAMEWORK,
    SHARED_AUTH,
    SPECTACULAR_SETTINGS,
    database,
    env_seconds,
)

PROJECT = "orders"
ROOT_URLCONF = "orders_service.urls"
WSGI_APPLICATION = "orders_service.wsgi.application"
DATABASES = {"default": database("ORDERS_DATABASE_URL", PROJECT)}

INSTALLED_APPS = [*INSTALLED_APPS, "orders_service.orders"]

# The orders service calls customers with tokens exchanged at the gateway's
# token endpoint as OAuth client ORDERS_CLIENT_ID (docs/delegation.md).
SHARED_AUTH = {
    **SHARED_AUTH,
    "AUDIENCE": PROJECT,
    "CLIENT_ID": ORDERS_CLIENT_ID,
    "CLIENT_SECRET": ORDERS_CLIENT_SECRET,
}

REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "EXCEPTION_HANDLER": "orders_service.orders.api_errors.exception_handler",
}

SPECTACULAR_SETTINGS = {
    **SPECTACULAR_SETTINGS,
    "TITLE": "Orders service",
    "DESCRIPTION": (
        "Orders that reserve customer credit. "
        "Every call needs a gateway-issued bearer token."
    ),
}

# How long an Idempotency-Key is remembered (manage.py purge; docs/operations.md).
IDEMPOTENCY_KEY_RETENTION = env_seconds("IDEMPOTENCY_KEY_RETENTION_SECONDS", 86400)
