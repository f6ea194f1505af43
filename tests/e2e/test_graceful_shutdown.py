"""SIGTERM on real gunicorn: readiness turns 503 first, nothing new is answered
after the drain, and a request in flight all along still completes with 200."""

import os
import signal
import threading
import time

import pytest
import requests

from devstack.stack import Stack
from tests.support.proxy_fakes import RecordingUpstream

DRAIN_SECONDS = 2


@pytest.fixture
def upstream():
    server = RecordingUpstream()
    yield server
    server.close()


@pytest.fixture
def draining_stack(tmp_path, upstream):
    """SQLite stack whose gateway routes /api/orders/ to the holding upstream."""
    stack = Stack(
        tmp_path,
        "sqlite",
        extra_env={
            "GATEWAY_PROXY_ROUTES": f"/api/orders/={upstream.url}",
            "GUNICORN_DRAIN_SECONDS": str(DRAIN_SECONDS),
            "GUNICORN_GRACEFUL_TIMEOUT": "20",
        },
    )
    try:
        yield stack.setup()
    finally:
        stack.close()


def _readyz(url: str) -> int | None:
    """Return /readyz's status, or None when nothing answers within a second."""
    try:
        return requests.get(f"{url}/readyz", timeout=1).status_code
    except (requests.ConnectionError, requests.Timeout):
        return None


def _wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_sigterm_drains_then_lets_the_in_flight_request_finish(
    draining_stack, upstream
):
    gateway = draining_stack.url("gateway")
    access = draining_stack.login("alice")["access"]
    assert _readyz(gateway) == 200
    answers: list[requests.Response] = []
    slow = threading.Thread(
        target=lambda: answers.append(
            requests.get(
                f"{gateway}/api/orders/hold/",
                headers={"Authorization": f"Bearer {access}"},
                timeout=30,
            )
        )
    )
    slow.start()
    assert upstream.holding.acquire(timeout=10), "the slow request never arrived"

    arbiter = draining_stack.processes["gateway"]
    sent_at = time.monotonic()
    os.kill(arbiter.pid, signal.SIGTERM)
    # Draining: still accepting, but not ready.
    assert _wait_for(lambda: _readyz(gateway) == 503, timeout=DRAIN_SECONDS)
    body = requests.get(f"{gateway}/readyz", timeout=5).json()
    assert body["code"] == "draining"
    # After the drain the worker accepts nothing new (the listener closes with
    # it); the held request is still in flight.
    assert _wait_for(lambda: _readyz(gateway) is None, timeout=DRAIN_SECONDS + 5)
    assert time.monotonic() - sent_at >= DRAIN_SECONDS - 0.5
    assert slow.is_alive() and arbiter.poll() is None

    upstream.release.set()
    slow.join(timeout=15)
    assert [a.status_code for a in answers] == [200]
    assert answers[0].json() == {"held": True}
    assert arbiter.wait(timeout=20) == 0
