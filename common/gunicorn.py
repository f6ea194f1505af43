"""Gunicorn settings the three projects share, each one from the environment.

A project's ``gunicorn.conf.py`` star-imports this module and adds its
``wsgi_app`` and ``bind``. Defaults suit a laptop (``make run``); the container
sets GUNICORN_BIND=0.0.0.0:<port> and GUNICORN_WORKER_TMP_DIR=/dev/shm (README
"Production").
"""

import os
from pathlib import Path
from typing import TYPE_CHECKING

from gunicorn.http import wsgi as _gunicorn_wsgi

if TYPE_CHECKING:
    from gunicorn.arbiter import Arbiter
    from gunicorn.workers.base import Worker

# gthread, accepting a connection only with a thread free for it (otherwise one
# worker could take every connection of a burst: README "Performance") and
# draining GUNICORN_DRAIN_SECONDS on SIGTERM (/readyz 503) before it stops.
worker_class = "common.gunicorn_worker.DrainingThreadWorker"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
# From SIGTERM to SIGKILL: the drain plus the longest request must fit in it.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "10"))
# Above the gateway's pool idle time (GATEWAY_PROXY["POOL_MAX_IDLE"], 2 s), so the
# gateway drops an idle connection before a service closes it under a request.
keepalive = 5
# Recycle workers now and then (0: never); jitter keeps them from restarting at once.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
max_requests_jitter = max_requests // 10
# The heartbeat file; /dev/shm avoids stalls on a container's overlay filesystem.
worker_tmp_dir = os.environ.get("GUNICORN_WORKER_TMP_DIR") or None
# One control socket per process only when asked for: the default path is shared by
# every gunicorn of a user, and a container's home directory is read-only.
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "")
control_socket_disable = not control_socket
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
errorlog = "-"
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-")
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms rid=%({x-request-id}o)s'

# No "Server: gunicorn" banner (docs/security.md). Gunicorn has no setting for
# it: the line is written by its HTTP/1 response class, so that class is
# replaced (in the master, before the workers fork) by one leaving it out.


class _ResponseWithoutBanner(_gunicorn_wsgi.Response):
    """Gunicorn's HTTP/1.x response, without the ``Server`` header."""

    def default_headers(self) -> list[str]:
        return [
            line
            for line in super().default_headers()
            if not line.lower().startswith("server:")
        ]


_gunicorn_wsgi.Response = _ResponseWithoutBanner

# -- Observability (docs/observability.md) -------------------------------------
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def _project_module(server: "Arbiter") -> str:
    """Return the project package served (``gateway_project``...)."""
    return str(server.cfg.wsgi_app).split(".", 1)[0]


def on_starting(server: "Arbiter") -> None:
    """Give the workers an empty metrics directory of their own project."""
    prepare_metrics_dir(_project_module(server))


def prepare_metrics_dir(project: str) -> None:
    """Set PROMETHEUS_MULTIPROC_DIR to an empty directory for ``project``'s workers.

    PROMETHEUS_MULTIPROC_DIR if set, else ``VAR_DIR/metrics/<project>``; the
    files a previous run left are removed (their counts would add up with
    this run's). With METRICS_ENABLED off the workers keep their samples in
    memory (nothing serves them). Also used by ``common.granian_server``.
    """
    if os.environ.get("METRICS_ENABLED", "1").strip().lower() in {"0", "false", "no"}:
        os.environ.pop(MULTIPROC_ENV, None)
        return
    default_var = Path(__file__).resolve().parent.parent / "var"
    directory = Path(
        os.environ.get(MULTIPROC_ENV)
        or Path(os.environ.get("VAR_DIR") or default_var) / "metrics" / project
    )
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink(missing_ok=True)
    os.environ[MULTIPROC_ENV] = str(directory)


def post_fork(server: "Arbiter", worker: "Worker") -> None:
    """Start tracing in this worker when OTEL_EXPORTER_OTLP_ENDPOINT is set."""
    module = _project_module(server)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", f"{module}.settings")
    from common.tracing import configure_tracing

    configure_tracing()


def child_exit(server: "Arbiter", worker: "Worker") -> None:
    """Merge the dead worker's live gauges out of the metrics (multiprocess mode)."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
