"""Whether this process is draining: told to stop, still finishing its work.

Set by the gunicorn worker on SIGTERM (``common.gunicorn_worker``), or for
every worker of a granian server by the file its main process creates on
SIGTERM (``common.granian_server``, which names it in ``DRAIN_FILE_ENV``); the
readiness views answer 503 from then on, so a load balancer polling them takes
the instance out while it still answers the requests that reach it.
"""

import os
import threading

DRAIN_FILE_ENV = "SERVER_DRAIN_FILE"
_draining = threading.Event()


def draining_start() -> None:
    """Mark this process as draining (for good: a draining worker only exits)."""
    _draining.set()


def is_draining() -> bool:
    """Return True once this process has been told to stop."""
    if _draining.is_set():
        return True
    path = os.environ.get(DRAIN_FILE_ENV)
    return bool(path) and os.path.exists(path)
