"""The gateway's internal listener (GATEWAY_INTERNAL_BIND): the services' calls
to the gateway never wait behind the proxied requests that wait for them.

A tiny stack (one worker of two threads per project): creating orders through
the gateway fills both of its threads with proxied requests, and orders must
exchange the caller's token at the gateway before it can answer any of them.
On the gateway's own port that exchange would queue behind those requests
until orders' exchange timeout (3 s) and the orders would fail with 503; on
the internal listener every order is created at once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from devstack.stack import Stack, is_internal_listener

TIMEOUT = 15
CONCURRENT_ORDERS = 6
# Well under orders' exchange timeout (SHARED_AUTH["EXCHANGE_TIMEOUT"], 3 s read),
# which the orders would all have waited for on the gateway's public port.
QUICKLY = 2.5


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    running = Stack(
        tmp_path_factory.mktemp("internal-listener"),
        extra_env={"E2E_WORKERS": "1", "E2E_THREADS": "2"},
    )
    try:
        yield running.setup()
    finally:
        running.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return True
    return False


def children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(child) for child in text.split()]


def test_orders_created_while_every_gateway_thread_waits_for_orders(stack):
    gateway = stack.url("gateway")
    owner = stack.login("alice")["access"]
    customer = requests.post(
        f"{gateway}/api/customers/",
        json={"name": "Internal Ltd", "credit_limit": "1000.00"},
        headers=bearer(owner),
        timeout=TIMEOUT,
    )
    assert customer.status_code == 201, customer.text
    # A token orders has not exchanged yet: each order needs the exchange first.
    token = stack.login("alice")["access"]

    def create(_: int) -> int:
        return requests.post(
            f"{gateway}/api/orders/",
            json={"customer_id": customer.json()["id"], "total": "1.00"},
            headers=bearer(token),
            timeout=TIMEOUT,
        ).status_code

    started = time.monotonic()
    with ThreadPoolExecutor(CONCURRENT_ORDERS) as pool:
        statuses = list(pool.map(create, range(CONCURRENT_ORDERS)))
    elapsed = time.monotonic() - started
    assert statuses == [201] * CONCURRENT_ORDERS
    assert elapsed < QUICKLY


def test_the_internal_listener_serves_the_services_calls(stack):
    internal = stack.internal_url
    jwks = requests.get(f"{internal}/.well-known/jwks.json", timeout=TIMEOUT)
    assert jwks.status_code == 200
    assert jwks.json()["keys"]
    feed = requests.get(
        f"{internal}/auth/revocations/",
        headers=bearer(stack.env["REVOCATION_FEED_TOKEN"]),
        timeout=TIMEOUT,
    )
    assert feed.status_code == 200
    # The same issuer everywhere: the tokens' iss and the metadata stay public.
    metadata = requests.get(
        f"{internal}/.well-known/oauth-authorization-server", timeout=TIMEOUT
    ).json()
    assert metadata["issuer"] == stack.url("gateway")
    assert metadata["token_endpoint"].startswith(stack.url("gateway"))


def test_the_internal_listener_is_a_server_of_its_own_not_a_worker(stack):
    root = stack.processes["gateway"].pid
    internal = [pid for pid in children(root) if is_internal_listener(pid)]
    assert len(internal) == 1
    workers = [pid for pid in children(root) if not is_internal_listener(pid)]
    assert len(workers) == 1  # E2E_WORKERS
    log = stack.log_path("gateway").read_text()
    assert f"[internal] internal listener of pid {root} at " in log


def test_stopping_the_gateway_stops_its_internal_listener(stack):
    stack.stop("gateway")
    try:
        assert refuses_connections(stack.ports["gateway"])
        assert refuses_connections(stack.internal_port)
    finally:
        stack.start("gateway")
    response = requests.get(f"{stack.internal_url}/healthz", timeout=TIMEOUT)
    assert response.status_code == 200


def test_a_killed_gateway_leaves_no_internal_listener_behind(stack):
    root = stack.processes["gateway"].pid
    (internal,) = [pid for pid in children(root) if is_internal_listener(pid)]
    os.kill(root, signal.SIGKILL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and is_running(internal):
            time.sleep(0.1)
        assert not is_running(internal)
        assert refuses_connections(stack.internal_port)
    finally:
        with contextlib.suppress(ProcessLookupError):  # its orphaned worker
            os.killpg(root, signal.SIGKILL)
        stack.processes["gateway"].wait()
        stack.start("gateway")


def is_running(pid: int) -> bool:
    """Return True if process ``pid`` exists and has not exited (a zombie)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except OSError:
        return False
