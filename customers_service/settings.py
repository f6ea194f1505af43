"""Settings of the customers service (shared part: common.service_settings)."""

from common.service_settings import *  # noqa: F403
from common.service_settings import (
    INSTALLED_APPS,
    REST_FRAMEWORK,
    SHARED_AUTH,
    SPECTACULAR_SETTINGS,
    database,
    env_list,
    env_seconds,
)

PROJECT = "customers"
ROOT_URLCONF = "customers_service.urls"
WSGI_APPLICATION = "customers_service.wsgi.application"
DATABASES = {"default": database("CUSTOMERS_DATABASE_URL", PROJECT)}

INSTALLED_APPS = [*INSTALLED_APPS, "customers_service.customers"]

SHARED_AUTH = {**SHARED_AUTH, "AUDIENCE": PROJECT}

# The services whose delegated tokens (act.sub) may write credit reservations
# (docs/delegation.md).
RESERVATION_ACTORS = env_list("RESERVATION_ACTORS", "orders")

REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "EXCEPTION_HANDLER": "customers_service.customers.api_errors.exception_handler",
}

SPECTACULAR_SETTINGS = {
    **SPECTACULAR_SETTINGS,
    "TITLE": "Customers service",
    "DESCRIPTION": (
        "Customers and their credit reservations. "
        "Every call needs a gateway-issued bearer token."
    ),
}

# How long a release's tombstone refuses a late reserve of its order (manage.py
# purge; docs/operations.md): longer than the orders' IDEMPOTENCY_KEY_RETENTION.
RELEASE_TOMBSTONE_RETENTION = env_seconds("RELEASE_TOMBSTONE_RETENTION_SECONDS", 604800)
