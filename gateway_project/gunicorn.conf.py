"""Gunicorn settings of gateway_project: the shared ones (common/gunicorn.py), its
port, more threads, the trusted proxies and the proxy's access logger.
"""

import os
from typing import TYPE_CHECKING

from common.gunicorn import *  # noqa: F403
from common.gunicorn import post_fork as common_post_fork

if TYPE_CHECKING:
    from gunicorn.arbiter import Arbiter
    from gunicorn.workers.base import Worker

# The internal listener (GATEWAY_INTERNAL_BIND) is granian's only (common/serve.py):
# a second gunicorn bind would share the workers' threads, the very capacity the
# services' calls must not wait for.
if os.environ.get("GATEWAY_INTERNAL_BIND"):
    raise SystemExit(
        "GATEWAY_INTERNAL_BIND needs the gateway under granian: unset it (and the "
        "services' GATEWAY_INTERNAL_URL) to run the gateway under gunicorn"
    )

wsgi_app = "gateway_project.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# The gateway mostly waits on the services: more threads than a service has.
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
# Peers whose X-Forwarded-Proto gunicorn honours: the same as Django's
# (settings.TRUSTED_PROXIES, shared_auth.forwarded); none by default, the gateway
# being the edge (gunicorn's own default would trust any local client).
forwarded_allow_ips = os.environ.get("GATEWAY_TRUSTED_PROXIES", "")
# The proxy logs each request it answers itself: no second (access) line for those.
logger_class = "gateway_project.proxy.accesslog.AccessLogger"


def post_fork(server: "Arbiter", worker: "Worker") -> None:
    """Tell the proxy (settings.GATEWAY_PROXY) how many threads this worker has.

    Then the shared hook (tracing).
    """
    os.environ["GUNICORN_THREADS"] = str(server.cfg.threads)
    common_post_fork(server, worker)
