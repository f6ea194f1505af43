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

Keep-alive turnover: every ``KEEPALIVE_REQUESTS``-th answer of a worker asks
its client to close the connection (``Connection: close``; nginx's
``keepalive_requests``, counted per worker rather than per connection). granian's
workers race for each accept on one shared socket and the first one awake can
take a whole burst of new connections, leaving the other worker idle (a
``make bench`` row had one gateway worker doing 100% of the work). The client
reconnects and the accept goes to whichever worker is free, so connections
that landed on one worker spread out again as they turn over, at the cost
of one reconnect per ``KEEPALIVE_REQUESTS`` answers.

Draining: on SIGTERM the server first creates the file ``common.draining``
reads (``/readyz`` answers 503 in every worker) and keeps answering for
``GUNICORN_DRAIN_SECONDS``; then the workers stop accepting and get the rest
of ``GUNICORN_GRACEFUL_TIMEOUT`` to finish the requests in flight.

Internal listener: with ``GATEWAY_INTERNAL_BIND`` (host:port) set, the server
starts a second granian server as its child (this module again, with
``--internal-of <its pid>``): the same application on that address, one worker
of ``GUNICORN_THREADS`` threads, for the services' calls to the gateway (token
exchange, revocation feed, JWKS at ``GATEWAY_INTERNAL_URL``). Those calls must
not queue behind the proxied requests that wait for them: with every thread of
the main server busy proxying orders' creates, orders' token exchanges would
wait until their timeout (docs/production.md "The internal listener"). The
child writes its metrics into the main server's directory, logs with
``[internal]``, is stopped without a drain once the main server has stopped
(SIGTERM; SIGKILL if it lingers), and stops by itself when the main server is
gone (SIGKILL). If it exits while the main server serves (its port taken...),
the main server stops too, with status 1. Under ``GATEWAY_SERVER=gunicorn`` the
gateway refuses to start with ``GATEWAY_INTERNAL_BIND`` set
(``gateway_project/gunicorn.conf.py``).
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from granian.constants import HTTPModes, Interfaces
from granian.http import HTTP1Settings
from granian.log import LOGGING_CONFIG
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
KEEPALIVE_REQUESTS = 50
CLOSE_HEADER = ("Connection", "close")
INTERNAL_BIND_ENV = "GATEWAY_INTERNAL_BIND"
INTERNAL_OPTION = "--internal-of"
ORPHAN_POLL_SECONDS = 0.5
# granian's log format, each line of the internal listener marked as such.
INTERNAL_LOG_CONFIG = {
    "formatters": {
        **LOGGING_CONFIG["formatters"],
        "generic": {
            **LOGGING_CONFIG["formatters"]["generic"],
            "fmt": "[%(levelname)s] [internal] %(message)s",
        },
    }
}

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
    Every ``KEEPALIVE_REQUESTS``-th answer also carries ``Connection: close``
    (keep-alive turnover, see the module).
    """
    process_env = dict(os.environ)
    answers = itertools.count(1)

    def wrapped(environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        for key, value in process_env.items():
            if environ.get(key) == value:
                del environ[key]
        answer: dict[str, Any] = {}

        def start(status: str, headers: list, exc_info: Any = None) -> Any:
            answer.update(status=status, headers=headers)
            added = [SERVER_HEADER]
            if next(answers) % KEEPALIVE_REQUESTS == 0:
                added.append(CLOSE_HEADER)
            return start_response(status, [*headers, *added], exc_info)

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
    internal_failed = False  # its internal listener exited first

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


def start_internal(project: str) -> subprocess.Popen:
    """Start the internal listener of this process (``GATEWAY_INTERNAL_BIND``).

    It inherits this process's environment (the metrics directory included),
    output and process group.
    """
    command = ["-m", "common.serve", project, INTERNAL_OPTION, str(os.getpid())]
    return subprocess.Popen([sys.executable, *command])


def stop_internal(internal: subprocess.Popen, timeout: float) -> None:
    """Stop the internal listener: SIGTERM, then SIGKILL after ``timeout`` s."""
    if internal.poll() is None:
        internal.terminate()
        try:
            internal.wait(timeout)
        except subprocess.TimeoutExpired:
            internal.kill()
            internal.wait()


def stop_with_internal(
    server: DrainingServer, internal: subprocess.Popen, stopping: threading.Event
) -> None:
    """Stop ``server`` at once when ``internal`` exits while it serves (before
    ``stopping`` is set, and before a signal told it to stop: a SIGTERM to the
    process group stops the internal listener first).

    Without its internal listener the gateway would look healthy while every
    service call to it failed: better stopped (status 1), and restarted.
    """
    internal.wait()
    if not (stopping.is_set() or server.draining or server.interrupt_signal):
        logger.error("the internal listener exited (%s)", internal.returncode)
        server.internal_failed = True
        Server.signal_handler_interrupt(server)


def stop_when_orphaned(server: Server, parent: int) -> None:
    """Stop ``server`` (an internal listener) once process ``parent`` is gone."""
    while os.getppid() == parent:
        time.sleep(ORPHAN_POLL_SECONDS)
    logger.warning("the main server (pid %s) is gone: stopping", parent)
    server.signal_handler_interrupt()


def _in_background(target: Callable[..., None], *args: Any) -> None:
    threading.Thread(target=target, args=args, daemon=True).start()


def _server(
    *,
    parent: int | None,
    host: str,
    port: int,
    workers: int,
    threads: int,
    graceful: int,
) -> Server:
    """Return the granian server to run: the main one, or with ``parent`` set
    the internal listener of that process.

    The internal listener has no drain: nothing takes it out of a load
    balancer, and its main server stops it only once it has stopped itself.
    """
    return (Server if parent else DrainingServer)(
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
        log_dictconfig=INTERNAL_LOG_CONFIG if parent else None,
        respawn_failed_workers=True,
        workers_kill_timeout=max(1, graceful - (0 if parent else int(drain_seconds()))),
    )


def main(argv: list[str] | None = None) -> None:
    """Serve ``project`` until SIGTERM or SIGINT (see the module)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("project", help="gateway_project, orders_service, ...")
    parser.add_argument("--bind", help="host:port (default: GUNICORN_BIND's)")
    parser.add_argument(
        INTERNAL_OPTION,
        type=int,
        metavar="PID",
        help=f"serve {INTERNAL_BIND_ENV} as the internal listener of server PID",
    )
    args = parser.parse_args(argv)
    project = args.project
    parent = args.internal_of
    bind = args.bind or os.environ.get("GUNICORN_BIND")
    if (
        project not in GRANIAN_PROJECTS
        or os.environ.get("GATEWAY_SERVER") == "gunicorn"
    ):
        command = ["-m", "gunicorn", "-c", f"{project}/gunicorn.conf.py"]
        command += ["--bind", bind] if bind else []
        os.execv(sys.executable, [sys.executable, *command])
    internal_bind = os.environ.get(INTERNAL_BIND_ENV, "")
    if parent and not internal_bind:
        parser.error(f"{INTERNAL_OPTION} needs {INTERNAL_BIND_ENV}")
    host, port = _bind((internal_bind if parent else bind) or "127.0.0.1:8000")
    workers = 1 if parent else int(os.environ.get("WEB_CONCURRENCY", "2"))
    threads = int(os.environ.get("GUNICORN_THREADS", "8"))
    graceful = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "10"))
    os.environ["GUNICORN_THREADS"] = str(threads)  # the proxy's pool size
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", f"{project}.settings")
    if not parent:  # the internal listener writes into the main server's
        prepare_metrics_dir(project)
    state = tempfile.mkdtemp(prefix="serve-")
    os.environ[DRAIN_FILE_ENV] = os.path.join(state, "draining")
    server = _server(
        parent=parent,
        host=host,
        port=port,
        workers=workers,
        threads=threads,
        graceful=graceful,
    )
    internal, stopping = None, threading.Event()
    if parent:
        logger.info("internal listener of pid %s at %s:%s", parent, host, port)
        _in_background(stop_when_orphaned, server, parent)
    elif internal_bind:
        internal = start_internal(project)
        _in_background(stop_with_internal, server, internal, stopping)
    try:
        server.serve()
    finally:
        stopping.set()
        if internal is not None:
            stop_internal(internal, graceful + 5)  # its own worker's deadline first
        shutil.rmtree(state, ignore_errors=True)
    if internal is not None and server.internal_failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
