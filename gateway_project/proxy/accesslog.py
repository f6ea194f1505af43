"""gunicorn's access log for the gateway: one line per request, not two.

The proxy view logs every request it answers on its own line (with the
upstream, its time and the request id) and marks the WSGI environ; the access
line of such a request would only repeat it, so it is skipped. Every other
request keeps gunicorn's access line.
"""

from datetime import timedelta
from typing import Any

from gunicorn.glogging import Logger

# Set in the WSGI environ (``request.META``) once the proxy has logged the request.
PROXY_LOGGED = "gateway.proxy_logged"


class AccessLogger(Logger):
    """gunicorn's ``Logger``, minus the access line of requests the proxy logged."""

    def access(
        self, resp: Any, req: Any, environ: dict[str, Any], request_time: timedelta
    ) -> None:
        """Write the access line unless the proxy already logged this request."""
        if environ.get(PROXY_LOGGED):
            return
        super().access(resp, req, environ, request_time)
