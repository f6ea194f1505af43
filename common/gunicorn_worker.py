"""The gunicorn worker of the three projects: gthread, accepting only with a
thread free, and with a drain on SIGTERM.

Accepting: gunicorn's gthread workers all wait on the one listening socket, each
in its own poller, and a worker accepts whenever it is woken, whatever its
threads are doing. Linux wakes the pollers in a fixed order and the first to run
takes the connection, so a burst of keep-alive connections (wrk's 16, the
gateway's pool) often went to one worker, 13 to 16 of 16, and stayed there: the
project then ran on one core (the GIL) with the other idle. ``ThreadWorker``
accepts only while one of its threads is free (or about to be: the jobs it has
queued are fewer than its threads). A busy worker leaves new connections in the
socket's backlog, where the next worker with a free thread takes them; nothing
else changes (same socket, same keep-alive handling).

Draining: on SIGTERM, gunicorn's own worker stops accepting at once and then
gives the requests in flight ``graceful_timeout`` seconds to finish.
``DrainingThreadWorker`` first drains for ``GUNICORN_DRAIN_SECONDS`` (default 0:
no drain): it keeps accepting and answering while ``/readyz`` answers 503
(``common.draining``), so a load balancer that polls readiness stops sending
before the port closes. The arbiter kills whatever still runs
``graceful_timeout`` seconds after SIGTERM, so that must cover the drain plus
the longest request (docs/operations.md).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import Future
from types import FrameType

from gunicorn.workers.gthread import TConn
from gunicorn.workers.gthread import ThreadWorker as GunicornThreadWorker

from common.draining import draining_start, is_draining

logger = logging.getLogger(__name__)


# The longest a busy worker leaves a waiting connection to the others: then it
# accepts one itself (a saturated stack would otherwise starve the backlog).
MAX_ACCEPT_DELAY = 0.01


class ThreadWorker(GunicornThreadWorker):
    """gunicorn's gthread worker that accepts only with a thread free, or once
    a connection has waited ``MAX_ACCEPT_DELAY`` for one."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Jobs submitted to the thread pool and not finished yet. Only the main
        # thread (the poller's) submits and finishes jobs: no lock needed.
        self.jobs = 0
        # Since when this worker, wanting to accept, has held back for lack of
        # a free thread (None: not holding back).
        self.held_since: float | None = None

    def enqueue_req(self, conn: TConn) -> None:
        self.jobs += 1
        super().enqueue_req(conn)
        if self.jobs >= self.cfg.threads:
            self.set_accept_enabled(False)

    def finish_request(self, conn: TConn, fs: Future) -> None:
        self.jobs -= 1
        super().finish_request(conn, fs)
        self.set_accept_enabled(self.nr_conns < self.worker_connections)

    def set_accept_enabled(self, enabled: bool) -> None:
        """Accept if asked to and still alive, when a thread is free or after
        holding back for ``MAX_ACCEPT_DELAY``."""
        enabled = enabled and self.alive
        if enabled and self.jobs >= self.cfg.threads:
            now = time.monotonic()
            if self.held_since is None:
                self.held_since = now
            enabled = now - self.held_since >= MAX_ACCEPT_DELAY
        else:
            self.held_since = None
        super().set_accept_enabled(enabled)

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        # While holding back, look again soon (the run loop calls
        # set_accept_enabled after each wait).
        if self.held_since is not None:
            timeout = min(timeout, MAX_ACCEPT_DELAY)
        super().wait_for_and_dispatch_events(timeout)


def drain_seconds() -> float:
    """Return ``GUNICORN_DRAIN_SECONDS`` (0 when unset)."""
    return float(os.environ.get("GUNICORN_DRAIN_SECONDS") or 0)


class DrainingThreadWorker(ThreadWorker):
    """A ``ThreadWorker`` that drains before it stops accepting (see the module)."""

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
