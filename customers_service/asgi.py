"""ASGI entry point of customers_service."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "customers_service.settings")
application = get_asgi_application()
