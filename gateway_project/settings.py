"""Settings of the gateway: login, token issuing, JWKS, admin and the proxy."""

from common.settings import *  # noqa: F403
from common.settings import INSTALLED_APPS, database

PROJECT = "gateway"
ROOT_URLCONF = "gateway_project.urls"
WSGI_APPLICATION = "gateway_project.wsgi.application"
DATABASES = {"default": database("GATEWAY_DATABASE_URL", PROJECT)}

INSTALLED_APPS = [
    *INSTALLED_APPS,
    "gateway_project.identity",
    "gateway_project.proxy",
]
