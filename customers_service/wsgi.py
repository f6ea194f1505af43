"""WSGI entry point of customers_service."""

import os

from django.core.wsgi import get_wsgi_application

from common.tracing import configure_tracing

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "customers_service.settings")
# Before the middleware chain is built; a no-op without OTEL_EXPORTER_OTLP_ENDPOINT
# (and when a gunicorn worker's post_fork already did it). Also runserver's path.
configure_tracing()
application = get_wsgi_application()
