"""WSGI entry point of gateway_project."""

import os

import django

from common.tracing import configure_tracing

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_project.settings")
# Before the middleware chain is built; a no-op without OTEL_EXPORTER_OTLP_ENDPOINT
# (and when a gunicorn worker's post_fork already did it). Also runserver's path.
configure_tracing()
django.setup(set_prefix=False)  # as django.core.wsgi.get_wsgi_application

from gateway_project.proxy.handler import GatewayWSGIHandler  # noqa: E402

application = GatewayWSGIHandler()
