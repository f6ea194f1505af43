"""Gunicorn settings the three projects share, each one from the environment.

A project's ``gunicorn.conf.py`` star-imports this module and adds its
``wsgi_app`` and ``bind``. Defaults suit a laptop (``make run``); the container
sets GUNICORN_BIND=0.0.0.0:<port> and GUNICORN_WORKER_TMP_DIR=/dev/shm (README
"Production").
"""

import os

# gunicorn's gthread worker, accepting a connection only with a thread free for
# it: otherwise one worker could take every connection of a burst (README
# "Performance"; common/gunicorn_worker.py).
worker_class = "common.gunicorn_worker.ThreadWorker"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
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
