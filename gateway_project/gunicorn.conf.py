"""Gunicorn settings of gateway_project, each one from the environment.

Defaults suit a laptop (`make run`); the container sets GUNICORN_BIND=0.0.0.0:8000
and GUNICORN_WORKER_TMP_DIR=/dev/shm (README "Production").
"""

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gunicorn.arbiter import Arbiter
    from gunicorn.workers.base import Worker

wsgi_app = "gateway_project.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# The gateway mostly waits on the services: more threads than a service has.
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
# Peers whose X-Forwarded-Proto gunicorn honours: the same as Django's
# (settings.TRUSTED_PROXIES, shared_auth.forwarded); none by default, the gateway
# being the edge (gunicorn's own default would trust any local client).
forwarded_allow_ips = os.environ.get("GATEWAY_TRUSTED_PROXIES", "")
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "10"))
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
# The proxy logs each request it answers itself: no second (access) line for those.
logger_class = "gateway_project.proxy.accesslog.AccessLogger"


def post_fork(server: "Arbiter", worker: "Worker") -> None:
    """Tell the proxy (settings.GATEWAY_PROXY) how many threads this worker has."""
    os.environ["GUNICORN_THREADS"] = str(server.cfg.threads)
