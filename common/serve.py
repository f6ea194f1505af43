"""Serve a project with the server production gives it.

    python -m common.serve gateway_project [--bind HOST:PORT]  # granian
    python -m common.serve orders_service    # gunicorn, its gunicorn.conf.py

The gateway runs under granian (WSGI, HTTP/1.1): its HTTP handling is Rust's
(hyper) where gunicorn's is Python, and a proxied request spends most of the
gateway's time in the server (docs/performance.md). ``GATEWAY_SERVER=gunicorn``
runs it under gunicorn instead (``gateway_project/gunicorn.conf.py``); the
services always run under gunicorn.

granian reads the variables gunicorn's settings do (``common/gunicorn.py``):
``GUNICORN_BIND`` (host:port), ``WEB_CONCURRENCY`` (worker processes, 2),
``GUNICORN_THREADS`` (threads per worker, 8; also the proxy's pool size),
``GUNICORN_DRAIN_SECONDS`` and ``GUNICORN_GRACEFUL_TIMEOUT``; the metrics
directory is made as for gunicorn (``prepare_metrics_dir``). Requests beyond a
worker's threads wait inside it (granian's default backpressure: capping it at
the thread count, so that a busy worker would leave connections to the other,
made the 99th percentile at 16 connections 0.8 s). A keep-alive connection idle
for 5 s is closed and a request head over 64 KiB refused (gunicorn: 8 KiB a
field). ``served`` takes the process environment out of each request's environ,
replaces ``Server: granian`` by ``Server: gateway`` (granian cannot leave the
header out; the value names no software) and writes gunicorn's access line for
the requests the proxy did not log itself (granian's own access log is off).

Draining: on SIGTERM the server first creates the file ``common.draining``
reads (``/readyz`` answers 503 in every worker) and keeps answering for
``GUNICORN_DRAIN_SECONDS``; then the workers stop accepting and get the rest
of ``GUNICORN_GRACEFUL_TIMEOUT`` to finish the requests in flight.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from granian.constants import HTTPModes, Interfaces
from granian.http import HTTP1Settings
from granian.server import Server

from common.draining import DRAIN_FILE_ENV
from common.gunicorn import prepare_metrics_dir
from common.gunicorn_worker import drain_seconds

logger = logging.getLogger("_granian")  # granian's, configured in its main process
access_logger = logging.getLogger("common.serve.access")

KEEPALIVE_MS = 5000
MAX_HEAD = 64 * 1024
GRANIAN_PROJECTS = frozenset({"gateway_project"})
SERVER_HEADER = ("Server", "gateway")

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]


def served(app: WSGIApp, *, logged_key: str = "") -> WSGIApp:
    """Return ``app`` as the gateway serves it under granian.

    granian starts each request's environ from a copy of the process
    environment (``granian/wsgi.py``: ``basic_env | scope``): secrets included,
    and a variable such as ``HTTP_PROXY`` would read as a request header. Those
    are taken out again (a key whose value is the environment's). Every answer
    carries ``SERVER_HEADER`` instead of granian's ``Server: granian``, and each
    request gets gunicorn's access line (``common/gunicorn.py``'s format) unless
    the application set ``logged_key`` in the environ (the proxy's own line).
    """
    process_env = dict(os.environ)

    def wrapped(environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        for key, value in process_env.items():
            if environ.get(key) == value:
                del environ[key]
        answer: dict[str, Any] = {}

        def start(status: str, headers: list, exc_info: Any = None) -> Any:
            answer.update(status=status, headers=headers)
            return start_response(status, [*headers, SERVER_HEADER], exc_info)

        result = app(environ, start)
        if not environ.get(logged_key) and access_logger.isEnabledFor(logging.INFO):
            _log_access(environ, answer, time.perf_counter() - started)
        return result

    return wrapped


def _log_access(environ: dict, answer: dict, seconds: float) -> None:
    """Write gunicorn's access line: peer, request line, status, size, time, rid."""
    headers = {name.lower(): value for name, value in answer.get("headers", ())}
    query = environ.get("QUERY_STRING")
    target = environ.get("PATH_INFO", "") + (f"?{query}" if query else "")
    access_logger.info(
        '%s "%s %s %s" %s %s %dms rid=%s',
        environ.get("REMOTE_ADDR", "-"),
        environ.get("REQUEST_METHOD", "-"),
        target[:1024],
        environ.get("SERVER_PROTOCOL", "-"),
        answer.get("status", "-").split(" ", 1)[0],
        headers.get("content-length", "-"),
        seconds * 1000,
        headers.get("x-request-id", "-"),
    )


def application() -> WSGIApp:
    """Return the WSGI application of ``DJANGO_SETTINGS_MODULE``'s project
    (granian's factory, called in each worker)."""
    project = os.environ["DJANGO_SETTINGS_MODULE"].split(".", 1)[0]
    module = __import__(f"{project}.wsgi", fromlist=["application"])
    from gateway_project.proxy.accesslog import PROXY_LOGGED

    return served(module.application, logged_key=PROXY_LOGGED)


def _bind(value: str) -> tuple[str, int]:
    """Return (host, port) of ``host:port`` (``[::]:8000`` for IPv6)."""
    host, _, port = value.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


class DrainingServer(Server):
    """granian's server, draining for ``GUNICORN_DRAIN_SECONDS`` on SIGTERM."""

    draining = False

    def signal_handler_interrupt(self, *args: Any, **kwargs: Any) -> None:
        stop = super().signal_handler_interrupt
        delay = drain_seconds()
        if delay <= 0 or self.draining:
            stop()
            return
        self.draining = True
        Path(os.environ[DRAIN_FILE_ENV]).touch()
        logger.info("draining for %ss before stopping", delay)
        timer = threading.Timer(delay, stop)
        timer.daemon = True
        timer.start()


def main(argv: list[str] | None = None) -> None:
    """Serve ``project`` until SIGTERM or SIGINT (see the module)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("project", help="gateway_project, orders_service, ...")
    parser.add_argument("--bind", help="host:port (default: GUNICORN_BIND's)")
    args = parser.parse_args(argv)
    project = args.project
    bind = args.bind or os.environ.get("GUNICORN_BIND")
    if (
        project not in GRANIAN_PROJECTS
        or os.environ.get("GATEWAY_SERVER") == "gunicorn"
    ):
        command = ["-m", "gunicorn", "-c", f"{project}/gunicorn.conf.py"]
        command += ["--bind", bind] if bind else []
        os.execv(sys.executable, [sys.executable, *command])
    host, port = _bind(bind or "127.0.0.1:8000")
    workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
    threads = int(os.environ.get("GUNICORN_THREADS", "8"))
    graceful = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "10"))
    os.environ["GUNICORN_THREADS"] = str(threads)  # the proxy's pool size
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", f"{project}.settings")
    prepare_metrics_dir(project)
    state = tempfile.mkdtemp(prefix="serve-")
    os.environ[DRAIN_FILE_ENV] = os.path.join(state, "draining")
    try:
        DrainingServer(
            "common.serve:application",
            factory=True,
            address=host,
            port=port,
            interface=Interfaces.WSGI,
            http=HTTPModes.http1,
            websockets=False,
            workers=workers,
            blocking_threads=threads,
            http1_settings=HTTP1Settings(
                header_read_timeout=KEEPALIVE_MS, max_buffer_size=MAX_HEAD
            ),
            log_access=False,
            respawn_failed_workers=True,
            workers_kill_timeout=max(1, graceful - int(drain_seconds())),
        ).serve()
    finally:
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
