"""Liveness and readiness of the service (the tests every service runs)."""

from tests.support.service_health import *  # noqa: F403
