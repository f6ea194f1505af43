"""Per-request context (request id, current request) held in contextvars.

Contextvars are right under gunicorn threads and ASGI alike: each thread or task
sees only the request it is serving.
"""

from contextvars import ContextVar

from django.http import HttpRequest

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")
current_request_var: ContextVar[HttpRequest | None] = ContextVar(
    "current_request", default=None
)
# Set by the authentication classes once a caller is known, for the log filter.
username_var: ContextVar[str] = ContextVar("username", default="-")
