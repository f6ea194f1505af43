"""WSGI entry point of customers_service."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "customers_service.settings")
application = get_wsgi_application()
