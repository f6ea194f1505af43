"""The log filter: the trace id next to the request id, without importing tracing."""

import logging
import sys

from opentelemetry.sdk.trace import TracerProvider

from shared_auth.context import request_id_var
from shared_auth.logging import RequestIdFilter


def record() -> logging.LogRecord:
    return logging.LogRecord("x", logging.INFO, __file__, 1, "hello", (), None)


def test_no_trace_when_tracing_was_never_set_up(monkeypatch):
    monkeypatch.delitem(sys.modules, "opentelemetry.trace", raising=False)
    entry = record()
    assert RequestIdFilter().filter(entry)
    assert entry.trace_id == "-"
    assert "opentelemetry.trace" not in sys.modules


def test_no_trace_outside_a_span():
    import opentelemetry.trace  # noqa: F401 - loaded, as once tracing is on

    entry = record()
    RequestIdFilter().filter(entry)
    assert entry.trace_id == "-"


def test_the_current_spans_trace_id_next_to_the_request_id():
    tracer = TracerProvider().get_tracer("test")
    token = request_id_var.set("rid-1")
    try:
        with tracer.start_as_current_span("request") as span:
            entry = record()
            RequestIdFilter().filter(entry)
    finally:
        request_id_var.reset(token)
    assert entry.request_id == "rid-1"
    assert entry.trace_id == format(span.get_span_context().trace_id, "032x")
    assert len(entry.trace_id) == 32
