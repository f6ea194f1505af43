"""Logging filter adding the request id and the username to every record."""

import logging

from shared_auth.context import request_id_var, username_var


class RequestIdFilter(logging.Filter):
    """Set ``record.request_id`` and ``record.username`` from the current context.

    Django logs a response's 4xx/5xx line (``django.request``) after the middleware
    has left; such records carry the request itself, whose id is used then.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        record.request_id = getattr(request, "request_id", None) or request_id_var.get()
        record.username = username_var.get()
        return True
