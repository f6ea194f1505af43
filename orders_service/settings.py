"""Settings of the orders service."""

from common.settings import *  # noqa: F403
from common.settings import INSTALLED_APPS, database

PROJECT = "orders"
ROOT_URLCONF = "orders_service.urls"
WSGI_APPLICATION = "orders_service.wsgi.application"
DATABASES = {"default": database("ORDERS_DATABASE_URL", PROJECT)}

INSTALLED_APPS = [*INSTALLED_APPS, "orders_service.orders"]
