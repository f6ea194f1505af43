"""Whether this process is draining: told to stop, still finishing its work.

Set by the gunicorn worker on SIGTERM (``common.gunicorn_worker``); the
readiness views answer 503 from then on, so a load balancer polling them takes
the instance out while it still answers the requests that reach it.
"""

import threading

_draining = threading.Event()


def draining_start() -> None:
    """Mark this process as draining (for good: a draining worker only exits)."""
    _draining.set()


def is_draining() -> bool:
    """Return True once this process has been told to stop."""
    return _draining.is_set()
