"""Settings of the customers service."""

from common.settings import *  # noqa: F403
from common.settings import INSTALLED_APPS, database

PROJECT = "customers"
ROOT_URLCONF = "customers_service.urls"
WSGI_APPLICATION = "customers_service.wsgi.application"
DATABASES = {"default": database("CUSTOMERS_DATABASE_URL", PROJECT)}

INSTALLED_APPS = [*INSTALLED_APPS, "customers_service.customers"]
