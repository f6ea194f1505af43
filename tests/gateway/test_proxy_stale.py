"""Stale pooled connections: idled out before the service's keep-alive, and an
idempotent request the service closed unanswered is sent once more.

Against a real upstream on 127.0.0.1 (raw sockets) that closes a kept-alive
connection when the next request arrives on it: the race between a pooled
connection's reuse and the service's keep-alive timer, made deterministic.
"""

from __future__ import annotations

import json
import socket
import struct
import threading

import pytest

from common import gunicorn as gunicorn_conf
from gateway_project import settings as gateway_settings
from gateway_project.identity.tokens import access_token_for
from gateway_project.proxy import upstreams
from gateway_project.proxy.conf import DEFAULTS
from gateway_project.proxy.upstreams import proxy_config
from tests.support.proxy_fakes import RawListener


class ClosingUpstream(RawListener):
    """An HTTP/1.1 service that keeps connections alive and can drop a reuse.

    While ``drop_reused`` is above zero, a request arriving on a connection that
    already answered one is read and then left unanswered: the connection is
    closed (``reset``: with a TCP RST instead of a FIN); ``drop_new`` does the
    same to the first request of a new connection. ``seen`` records
    ``(connection number, method, dropped)`` per request.
    """

    def __init__(self, *, reset: bool = False) -> None:
        self.reset = reset
        self.drop_reused = 0
        self.drop_new = 0
        self.seen: list[tuple[int, str, bool]] = []
        self._lock = threading.Lock()
        super().__init__()

    def connected(self, conn: socket.socket, number: int) -> None:
        reader = conn.makefile("rb")
        answered = 0
        with conn:
            while True:
                request_line = reader.readline()
                if not request_line:
                    return
                length = 0
                while (line := reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.decode("latin-1").partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                reader.read(length)
                method = request_line.split()[0].decode()
                with self._lock:
                    counter = "drop_reused" if answered else "drop_new"
                    drop = getattr(self, counter) > 0
                    setattr(self, counter, getattr(self, counter) - drop)
                self.seen.append((number, method, drop))
                if drop:
                    if self.reset:
                        conn.setsockopt(
                            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                        )
                    return
                body = json.dumps({"connection": number}).encode()
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
                )
                answered += 1


@pytest.fixture(params=["fin", "rst"])
def closing(request):
    server = ClosingUpstream(reset=request.param == "rst")
    yield server
    server.close()


@pytest.fixture(autouse=True)
def routes(settings, closing):
    settings.GATEWAY_PROXY = {
        "ROUTES": {"/api/orders/": closing.url},
        "CONNECT_TIMEOUT": 0.5,
        "READ_TIMEOUT": 2.0,
        "POOL_TIMEOUT": 0.5,
        "POOL_SIZE": 2,
        "POOL_MAX_IDLE": 30.0,
    }
    yield
    proxy_config.cache_clear()


@pytest.fixture
def bearer(alice) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token_for(alice)}"}


def send(client, method: str, path: str, headers: dict, **kwargs):
    """Return the response to ``method path``, its body read and closed (as a
    WSGI server does), so its connection goes back to the pool."""
    response = getattr(client, method)(path, headers=headers, **kwargs)
    if response.streaming:
        response.body = b"".join(response.streaming_content)
    else:
        response.body = response.content
    response.close()
    return response


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "head", "options", "put", "delete"])
def test_an_idempotent_request_closed_unanswered_is_sent_again_on_a_new_connection(
    client, closing, bearer, method
):
    assert send(client, "get", "/api/orders/", bearer).status_code == 200
    closing.drop_reused = 1
    response = send(client, method, "/api/orders/1/", bearer)
    assert response.status_code == 200
    upper = method.upper()
    assert closing.seen == [(1, "GET", False), (1, upper, True), (2, upper, False)]


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["post", "patch"])
def test_a_non_idempotent_request_closed_unanswered_is_not_sent_again(
    client, closing, bearer, method
):
    assert send(client, "get", "/api/orders/", bearer).status_code == 200
    closing.drop_reused = 1
    response = send(
        client, method, "/api/orders/", bearer, data=b"{}", content_type="text/plain"
    )
    assert response.status_code == 502
    assert response.json()["code"] == "bad_gateway"
    assert closing.seen == [(1, "GET", False), (1, method.upper(), True)]


@pytest.mark.django_db
def test_the_retry_happens_once_only(client, closing, bearer):
    """The pooled connection is stale and the new one is closed too: 502."""
    assert send(client, "get", "/api/orders/", bearer).status_code == 200
    closing.drop_reused = 1
    closing.drop_new = 5
    response = send(client, "get", "/api/orders/", bearer)
    assert response.status_code == 502
    assert closing.seen == [(1, "GET", False), (1, "GET", True), (2, "GET", True)]


@pytest.mark.django_db
def test_a_pooled_connection_idle_too_long_is_not_reused(
    client, closing, bearer, settings, monkeypatch
):
    settings.GATEWAY_PROXY = {**settings.GATEWAY_PROXY, "POOL_MAX_IDLE": 2.0}
    now = [1000.0]
    monkeypatch.setattr(upstreams, "_monotonic", lambda: now[0])

    def connection() -> int:
        return json.loads(send(client, "get", "/api/orders/", bearer).body)[
            "connection"
        ]

    assert connection() == 1
    now[0] += 1.9
    assert connection() == 1
    now[0] += 2.0
    closing.drop_reused = 1  # would drop it, were the idle connection reused
    assert connection() == 2
    assert [dropped for *_, dropped in closing.seen] == [False, False, False]


def test_pooled_connections_idle_out_before_the_services_keep_alive():
    configured = {**DEFAULTS, **gateway_settings.GATEWAY_PROXY}["POOL_MAX_IDLE"]
    assert DEFAULTS["POOL_MAX_IDLE"] < gunicorn_conf.keepalive
    assert configured < gunicorn_conf.keepalive
