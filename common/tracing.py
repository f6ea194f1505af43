"""OpenTelemetry tracing of the three projects, on only when an exporter is set.

``configure_tracing()`` runs in each gunicorn worker (``common.gunicorn``'s
``post_fork``) and in ``manage.py runserver``. With neither
``OTEL_EXPORTER_OTLP_ENDPOINT`` nor ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` set
(or with ``OTEL_SDK_DISABLED=true``) it returns at once and OpenTelemetry is
never imported. Otherwise it sets up the SDK (OTLP over HTTP/protobuf, batch
export; the standard ``OTEL_*`` variables configure both) with
``service.name`` the project's (``settings.PROJECT``: gateway, orders,
customers) and instruments:

- Django: a server span per request, continuing the caller's ``traceparent``;
- the gateway's proxy hop: a client span per proxied request
  (``client_span``), whose context is the ``traceparent`` sent to the service;
- requests: a client span per call of shared_auth's session (orders to
  customers, token exchange, JWKS and revocation fetches).
"""

from __future__ import annotations

import logging
import os
import threading
from contextlib import AbstractContextManager, nullcontext

logger = logging.getLogger(__name__)

ENDPOINT_VARIABLES = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
)
# Requests not worth a span (probes and scrapes), unless the variable says else.
DEFAULT_EXCLUDED_URLS = "healthz,readyz,metrics"

_lock = threading.Lock()
_configured = False


def tracing_requested() -> bool:
    """Return True if the environment asks for traces to be exported."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return any(os.environ.get(name) for name in ENDPOINT_VARIABLES)


def configure_tracing() -> bool:
    """Set up tracing for this process if requested; return True if it is on.

    Idempotent. Must run before Django builds its middleware chain (the
    Django instrumentation adds its middleware to ``settings.MIDDLEWARE``).
    """
    global _configured
    if not tracing_requested():
        return False
    with _lock:
        if _configured:
            return True
        _setup()
        _configured = True
    return True


def inject_context(headers: dict[str, str]) -> None:
    """Put the current span's ``traceparent`` in outgoing ``headers`` (lower-case).

    With tracing off, nothing is changed (a caller's ``traceparent`` passes
    through, as through any proxy that does not take part). With it on, a
    caller's ``traceparent`` and ``tracestate`` are replaced by this process's
    context, so the next hop is the child of this one even if no client span
    is made (inside ``client_span``, the client span's).
    """
    if not _configured:
        return
    from opentelemetry import propagate

    headers.pop("traceparent", None)
    headers.pop("tracestate", None)
    propagate.inject(headers)


def client_span(method: str, url: str) -> AbstractContextManager:
    """Return a context manager around one outgoing request: a client span
    when tracing is on (current while it lasts), else nothing."""
    if not _configured:
        return nullcontext()
    from opentelemetry import trace

    return trace.get_tracer(__name__).start_as_current_span(
        method,
        kind=trace.SpanKind.CLIENT,
        attributes={"http.request.method": method, "url.full": url},
    )


def _setup() -> None:
    from django.conf import settings
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter,
    )
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.requests import RequestsInstrumentor
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    os.environ.setdefault("OTEL_PYTHON_DJANGO_EXCLUDED_URLS", DEFAULT_EXCLUDED_URLS)
    # The project's name wins over OTEL_SERVICE_NAME: the three projects of one
    # checkout share an environment.
    resource = Resource.create({SERVICE_NAME: settings.PROJECT})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    DjangoInstrumentor().instrument()
    RequestsInstrumentor().instrument()
    logger.info("Tracing on: %s exports spans over OTLP/HTTP", settings.PROJECT)
