"""The gthread worker the three projects run (``worker_class`` in common/gunicorn.py).

gunicorn's gthread workers all wait on the one listening socket, each in its own
poller, and a worker accepts whenever it is woken, whatever its threads are
doing. Linux wakes the pollers in a fixed order and the first to run takes the
connection, so a burst of keep-alive connections (wrk's 16, the gateway's pool)
often went to one worker, 14 to 16 of 16, and stayed there: the project then
ran on one core (the GIL) with the other idle.

This worker accepts only while one of its threads is free (or about to be: the
jobs it has queued are fewer than its threads). A busy worker leaves new
connections in the socket's backlog, where the next worker with a free thread
takes them; nothing else changes (same socket, same keep-alive handling).
"""

from concurrent.futures import Future

from gunicorn.workers.gthread import TConn
from gunicorn.workers.gthread import ThreadWorker as GunicornThreadWorker


class ThreadWorker(GunicornThreadWorker):
    """gunicorn's gthread worker that accepts only with a thread free."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Jobs submitted to the thread pool and not finished yet. Only the main
        # thread (the poller's) submits and finishes jobs: no lock needed.
        self.jobs = 0

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
        """Accept if asked to, still alive and a thread is free."""
        super().set_accept_enabled(
            enabled and self.alive and self.jobs < self.cfg.threads
        )
