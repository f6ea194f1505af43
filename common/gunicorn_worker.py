"""The gunicorn worker of the three projects: gthread, with a drain on SIGTERM.

On SIGTERM, gunicorn's own worker stops accepting at once and then gives the
requests in flight ``graceful_timeout`` seconds to finish. This one first
drains for ``GUNICORN_DRAIN_SECONDS`` (default 0: no drain): it keeps accepting
and answering while ``/readyz`` answers 503 (``common.draining``), so a load
balancer that polls readiness stops sending before the port closes. The
arbiter kills whatever still runs ``graceful_timeout`` seconds after SIGTERM,
so that must cover the drain plus the longest request (docs/operations.md).
"""

from __future__ import annotations

import logging
import os
import threading
from types import FrameType

from gunicorn.workers.gthread import ThreadWorker

from common.draining import draining_start, is_draining

logger = logging.getLogger(__name__)


def drain_seconds() -> float:
    """Return ``GUNICORN_DRAIN_SECONDS`` (0 when unset)."""
    return float(os.environ.get("GUNICORN_DRAIN_SECONDS") or 0)


class DrainingThreadWorker(ThreadWorker):
    """A gthread worker that drains before it stops accepting (see the module)."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        delay = drain_seconds()
        if delay <= 0 or is_draining():
            self.alive = False
            return
        draining_start()
        self.log.info("Worker %s draining for %ss before stopping", self.pid, delay)
        timer = threading.Timer(delay, self._stop_accepting)
        timer.daemon = True
        timer.start()

    def _stop_accepting(self) -> None:
        # The run loop sees it within a second, stops accepting and lets the
        # requests in flight finish within graceful_timeout.
        self.alive = False
