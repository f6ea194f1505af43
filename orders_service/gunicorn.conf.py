"""Gunicorn settings of orders_service: the shared ones, and its port."""

import os

from common.gunicorn import *  # noqa: F403

wsgi_app = "orders_service.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8001")
