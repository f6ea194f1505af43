"""Logging filter adding the request id, the trace id and the username to records."""

import logging
import sys

from shared_auth.context import request_id_var, username_var

NO_TRACE = "-"


def current_trace_id() -> str:
    """Return the current OpenTelemetry trace id (32 hex digits), or ``"-"``.

    OpenTelemetry is never imported here: if tracing was not set up (the
    ``opentelemetry.trace`` module is not loaded), there is no trace.
    """
    trace = sys.modules.get("opentelemetry.trace")
    if trace is None:
        return NO_TRACE
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else NO_TRACE


class RequestIdFilter(logging.Filter):
    """Set ``record.request_id``, ``record.trace_id`` and ``record.username``.

    Django logs a response's 4xx/5xx line (``django.request``) after the middleware
    has left; such records carry the request itself, whose id is used then.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        record.request_id = getattr(request, "request_id", None) or request_id_var.get()
        record.trace_id = current_trace_id()
        record.username = username_var.get()
        return True
