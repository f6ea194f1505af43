"""Logging filter adding the request id and the username to every record."""

import logging

from shared_auth.context import request_id_var, username_var


class RequestIdFilter(logging.Filter):
    """Set ``record.request_id`` and ``record.username`` from the current context."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        record.username = username_var.get()
        return True
