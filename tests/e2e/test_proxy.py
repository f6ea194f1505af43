"""The gateway proxy as real gunicorn processes see it.

``stack``'s gateway forwards to the real services. ``edge`` is a second gateway
process on the same databases and keys whose routes also lead to the fakes of
``proxy_fakes`` (a recording service, a silent one, a dead port, a jammed
backlog), with short timeouts; raw request lines go to it over a socket.
"""

from __future__ import annotations

import re
import socket
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urljoin, urlsplit

import pytest
import requests

from devstack.stack import Stack, answers_healthz, free_port, gunicorn
from tests.support.proxy_fakes import (
    GZIPPED,
    JammedUpstream,
    RecordingUpstream,
    SilentUpstream,
    dead_url,
)

TIMEOUT = 10


@dataclass
class Edge:
    """A gateway process whose routes include the fakes."""

    url: str
    log: Path
    process: subprocess.Popen

    @property
    def address(self) -> tuple[str, int]:
        parts = urlsplit(self.url)
        return parts.hostname, parts.port


@pytest.fixture(scope="module")
def fakes():
    servers = SimpleNamespace(
        echo=RecordingUpstream(), silent=SilentUpstream(), jammed=JammedUpstream()
    )
    yield servers
    for server in vars(servers).values():
        server.close()


@pytest.fixture(autouse=True)
def forget_echoed(fakes) -> None:
    """Start each test with no request seen: the fakes serve every database's run."""
    fakes.echo.requests.clear()


@pytest.fixture(scope="module")
def edge(stack: Stack, fakes) -> Edge:
    port = free_port()
    routes = {
        "/api/orders/": stack.url("orders"),
        "/api/customers/": stack.url("customers"),
        "/api/echo/": fakes.echo.url,
        "/api/silent/": fakes.silent.url,
        "/api/jammed/": fakes.jammed.url,
        "/api/dead/": dead_url(),
    }
    env = {
        **stack.env,
        "GATEWAY_PROXY_ROUTES": ",".join(f"{p}={u}" for p, u in routes.items()),
        "GATEWAY_PROXY_CONNECT_TIMEOUT": "1",
        "GATEWAY_PROXY_READ_TIMEOUT": "1",
        "GATEWAY_PROXY_POOL_TIMEOUT": "0.5",
        "GATEWAY_PROXY_POOL_SIZE": "2",
        "GATEWAY_PROXY_MAX_BODY_SIZE": "65536",
    }
    log_path = stack.workdir / f"edge-{port}.log"
    process = gunicorn(
        "gateway_project", f"127.0.0.1:{port}", env=env, log_path=log_path
    )
    edge = Edge(f"http://127.0.0.1:{port}", log_path, process)
    try:
        if not answers_healthz(edge.url, process):
            raise RuntimeError(f"edge gateway did not start:\n{log_path.read_text()}")
        yield edge
    finally:
        process.terminate()
        process.wait(timeout=15)


@pytest.fixture(scope="module")
def alice(stack: Stack) -> str:
    """alice's access token."""
    return stack.login("alice")["access"]


@pytest.fixture
def auth(alice: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {alice}"}


def seen_by_echo(fakes, marker: str) -> list:
    return [r for r in fakes.echo.requests if marker in r.target]


def exchange(server: Edge | str, data: bytes) -> bytes:
    """Send raw bytes to a gateway; return all it answers until it closes."""
    parts = urlsplit(server if isinstance(server, str) else server.url)
    received = b""
    with socket.create_connection(
        (parts.hostname, parts.port), timeout=TIMEOUT
    ) as sock:
        sock.sendall(data)
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    return received


def statuses(received: bytes) -> list[int]:
    return [int(code) for code in re.findall(rb"^HTTP/1\.[01] (\d{3})", received, re.M)]


def request_line(method: str, target: str, token: str, *extra: str) -> bytes:
    lines = [
        f"{method} {target} HTTP/1.1",
        "Host: 127.0.0.1",
        f"Authorization: Bearer {token}",
        *extra,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


# -- through the real services -----------------------------------------------------
def test_orders_and_customers_through_the_gateway(stack, auth):
    gateway = stack.url("gateway")
    customer = requests.post(
        f"{gateway}/api/customers/",
        json={"name": "Proxy Ltd", "credit_limit": "100.00"},
        headers=auth,
        timeout=TIMEOUT,
    )
    assert customer.status_code == 201, customer.text
    for total in ("10.00", "20.00"):
        order = requests.post(
            f"{gateway}/api/orders/",
            json={"customer_id": customer.json()["id"], "total": total},
            headers=auth,
            timeout=TIMEOUT,
        )
        assert order.status_code == 201, order.text
        assert order.json()["state"] == "APPROVED"
    page = requests.get(
        f"{gateway}/api/orders/?page_size=1", headers=auth, timeout=TIMEOUT
    )
    assert page.status_code == 200
    # Built by the service from X-Forwarded-Host/-Proto: a link to the gateway.
    assert page.json()["next"].startswith(f"{gateway}/api/orders/?")

    # The service's own redirect comes back as it is, pointing at the gateway.
    order_id = order.json()["id"]
    moved = requests.get(
        f"{gateway}/api/orders/{order_id}",
        headers=auth,
        timeout=TIMEOUT,
        allow_redirects=False,
    )
    assert moved.status_code == 301
    location = urljoin(moved.url, moved.headers["Location"])
    assert location == f"{gateway}/api/orders/{order_id}/"


def test_unknown_api_prefix_is_404_at_the_gateway(stack, auth):
    response = requests.get(
        f"{stack.url('gateway')}/api/nope/", headers=auth, timeout=TIMEOUT
    )
    assert response.status_code == 404
    assert response.json()["detail"] == "Not found."


def test_no_credentials_is_401_with_www_authenticate(stack):
    response = requests.get(f"{stack.url('gateway')}/api/orders/", timeout=TIMEOUT)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["code"] == "not_authenticated"


def test_a_services_admin_is_out_of_reach(stack, alice):
    for target in ("/api/orders/../../admin/", "/api/orders/%2e%2e/%2E%2e/admin/"):
        received = exchange(
            stack.url("gateway"),
            request_line("GET", target, alice, "Connection: close"),
        )
        assert statuses(received) == [400]
        assert b"Django administration" not in received


def test_a_session_login_browses_with_csrf_on_unsafe_methods(stack):
    gateway = stack.url("gateway")
    session = requests.Session()
    form = session.get(f"{gateway}/api-auth/login/", timeout=TIMEOUT)
    csrf = session.cookies["csrftoken"]
    login = session.post(
        f"{gateway}/api-auth/login/",
        data={
            "username": "bob",
            "password": "bob-demo-pass",
            "csrfmiddlewaretoken": csrf,
            "next": "/api/orders/",
        },
        headers={"Referer": form.url},
        timeout=TIMEOUT,
    )
    assert login.status_code == 200, login.text
    listed = session.get(f"{gateway}/api/orders/?format=json", timeout=TIMEOUT)
    assert listed.status_code == 200
    refused = session.post(f"{gateway}/api/customers/", json={}, timeout=TIMEOUT)
    assert refused.status_code == 403
    assert refused.json()["detail"].startswith("CSRF Failed")
    created = session.post(
        f"{gateway}/api/customers/",
        json={"name": "Bob Co", "credit_limit": "5.00"},
        headers={"X-CSRFToken": session.cookies["csrftoken"], "Referer": gateway},
        timeout=TIMEOUT,
    )
    assert created.status_code == 201, created.text


# -- raw request targets -----------------------------------------------------------
@pytest.mark.parametrize(
    ("target", "status"),
    [
        ("/api/echo/raw-1/../../admin/", 400),
        ("/api/echo/raw-2/%2e%2e/%2E%2e/admin/", 400),
        ("/api/echo/raw-3/..%2fadmin/", 400),
        ("/api/echo/raw-4/%2fadmin/", 400),
        ("/api/echo/raw-5/..%5cadmin/", 400),
        ("/api/echo/raw-6/..\\admin/", 400),
        ("/api/echo/raw-7/%00/", 400),
        ("/api/echo/raw-8/..;/admin/", 400),
        ("/api/echo/raw-9/%252e%252e/", 400),
        ("http://127.0.0.2:9/api/echo/raw-10/", 400),
        ("//127.0.0.2:9/api/echo/raw-11/", 404),
        ("/api/echo@127.0.0.2:9/raw-12/", 404),
    ],
)
def test_unsafe_raw_targets_never_reach_a_service(edge, fakes, alice, target, status):
    marker = re.search(r"raw-\d+", target).group(0)
    received = exchange(edge, request_line("GET", target, alice, "Connection: close"))
    assert statuses(received) == [status], received[:300]
    assert seen_by_echo(fakes, marker) == []


def test_a_raw_nul_in_the_request_line_is_400(edge, fakes, alice):
    received = exchange(
        edge, request_line("GET", "/api/echo/raw-nul/\x00", alice, "Connection: close")
    )
    assert statuses(received) == [400]
    assert seen_by_echo(fakes, "raw-nul") == []


def test_an_at_sign_after_the_prefix_stays_on_the_configured_host(edge, fakes, alice):
    target = "/api/echo/@127.0.0.2:9/raw-at/"
    received = exchange(edge, request_line("GET", target, alice, "Connection: close"))
    assert statuses(received) == [200]
    assert [r.target for r in seen_by_echo(fakes, "raw-at")] == [target]


@pytest.mark.parametrize(
    "target", ["127.0.0.2:9", "/api/echo/connect/", "http://127.0.0.2:9/"]
)
def test_connect_is_refused(edge, fakes, alice, target):
    received = exchange(edge, request_line("CONNECT", target, alice))
    assert statuses(received)[0] in (400, 404, 405)
    assert seen_by_echo(fakes, "connect") == []


# -- request smuggling shapes ------------------------------------------------------
SMUGGLED = "GET /api/echo/smuggled/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


@pytest.mark.parametrize(
    ("name", "framing", "body"),
    [
        ("cl-te", ["Content-Length: 5", "Transfer-Encoding: chunked"], "0\r\n\r\n"),
        ("te-cl", ["Transfer-Encoding: chunked", "Content-Length: 5"], "0\r\n\r\n"),
        ("cl-cl", ["Content-Length: 0", "Content-Length: 5"], "hello"),
        ("te-te", ["Transfer-Encoding: chunked", "Transfer-Encoding: chunked"], ""),
        ("te-obf", ["Transfer-Encoding: xchunked"], "0\r\n\r\n"),
        ("chunk-zz", ["Transfer-Encoding: chunked"], "zz\r\nhello\r\n0\r\n\r\n"),
        ("chunk-neg", ["Transfer-Encoding: chunked"], "-5\r\nhello\r\n0\r\n\r\n"),
        ("chunk-0x", ["Transfer-Encoding: chunked"], "0x5\r\nhello\r\n0\r\n\r\n"),
        ("chunk-len", ["Transfer-Encoding: chunked"], "3\r\nhello\r\n0\r\n\r\n"),
    ],
)
def test_smuggling_shapes_are_400_and_nothing_rides_along(
    edge, fakes, alice, name, framing, body
):
    head = request_line(
        "POST",
        f"/api/echo/smuggle-{name}/",
        alice,
        "Content-Type: text/plain",
        *framing,
    )
    received = exchange(edge, head + body.encode() + SMUGGLED.encode())
    # gunicorn answers an unknown transfer coding with 501, as RFC 9112 says.
    assert statuses(received)[0] == (501 if name == "te-obf" else 400), received
    assert len(seen_by_echo(fakes, f"smuggle-{name}")) <= 1
    assert seen_by_echo(fakes, "smuggled") == []


def test_a_well_formed_chunked_body_is_forwarded_with_a_length(edge, fakes, alice):
    head = request_line(
        "POST",
        "/api/echo/chunked-ok/",
        alice,
        "Content-Type: text/plain",
        "Transfer-Encoding: chunked",
        "Connection: close",
    )
    received = exchange(edge, head + b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
    assert statuses(received) == [200]
    (recorded,) = seen_by_echo(fakes, "chunked-ok")
    assert recorded.body == b"hello world"
    assert recorded.header("Content-Length") == "11"
    assert recorded.header("Transfer-Encoding") is None


# -- headers -----------------------------------------------------------------------
def test_spoofed_identity_headers_are_dropped(edge, fakes, auth):
    spoofed = {
        "X-Forwarded-For": "6.6.6.6",
        "X-Forwarded-Host": "evil.example",
        "X-Forwarded-Proto": "https",
        "Forwarded": "for=6.6.6.6",
        "X-Real-IP": "6.6.6.6",
        "X-User-Id": "1",
        "X-Authenticated-User": "admin",
        "X-Remote-User": "admin",
        "Cookie": "sessionid=stolen",
    }
    response = requests.get(
        f"{edge.url}/api/echo/spoofed/",
        headers={**auth, **spoofed},
        timeout=TIMEOUT,
    )
    assert response.status_code == 200
    seen = response.json()["headers"]
    host, port = edge.address
    assert seen["x-forwarded-for"] == "127.0.0.1"
    assert seen["x-forwarded-host"] == f"{host}:{port}"
    assert seen["x-forwarded-proto"] == "http"
    assert not {
        "forwarded",
        "x-real-ip",
        "x-user-id",
        "x-authenticated-user",
        "x-remote-user",
        "cookie",
    } & set(seen)


def test_connection_authorization_does_not_strip_the_forwarded_token(
    edge, fakes, alice
):
    received = exchange(
        edge,
        request_line(
            "GET",
            "/api/echo/conn-auth/",
            alice,
            "Connection: close, Authorization, X-Forwarded-For, X-Secret",
            "X-Secret: s3cr3t",
        ),
    )
    assert statuses(received) == [200]
    (recorded,) = seen_by_echo(fakes, "conn-auth")
    assert recorded.header("Authorization") == f"Bearer {alice}"
    assert recorded.header("X-Forwarded-For") == "127.0.0.1"
    assert recorded.header("X-Secret") is None
    assert recorded.header("Connection") in (None, "keep-alive")


def test_hop_by_hop_response_headers_are_dropped(edge, auth):
    response = requests.get(f"{edge.url}/api/echo/hop/", headers=auth, timeout=10)
    assert response.status_code == 200
    assert "X-Hop-Secret" not in response.headers
    assert "Keep-Alive" not in response.headers
    assert response.cookies["first"] == "1" and response.cookies["second"] == "2"


# -- bodies, redirects, encodings --------------------------------------------------
def test_an_oversized_body_is_413_before_forwarding(edge, fakes, alice):
    head = request_line(
        "POST",
        "/api/echo/too-big/",
        alice,
        "Content-Type: application/octet-stream",
        "Content-Length: 70000",
        "Connection: close",
    )
    received = exchange(edge, head + b"x" * 1024)
    assert statuses(received) == [413]
    assert b'"code": "request_too_large"' in received
    assert seen_by_echo(fakes, "too-big") == []


def test_redirects_are_passed_back_not_followed(edge, fakes, auth):
    response = requests.get(
        f"{edge.url}/api/echo/redirect/",
        headers=auth,
        timeout=10,
        allow_redirects=False,
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/api/orders/elsewhere/"
    assert seen_by_echo(fakes, "elsewhere") == []


def test_gzip_is_relayed_untouched(edge, auth):
    response = requests.get(
        f"{edge.url}/api/echo/gzip/",
        headers={**auth, "Accept-Encoding": "gzip"},
        timeout=10,
        stream=True,
    )
    raw = response.raw.read(decode_content=False)
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.headers["Content-Length"] == str(len(GZIPPED))
    assert raw == GZIPPED


# -- upstream failures -------------------------------------------------------------
def test_a_dead_upstream_is_502(edge, auth):
    response = requests.get(f"{edge.url}/api/dead/", headers=auth, timeout=TIMEOUT)
    assert response.status_code == 502
    assert response.json()["code"] == "upstream_refused"


def test_a_silent_upstream_is_504(edge, auth):
    response = requests.get(f"{edge.url}/api/silent/", headers=auth, timeout=TIMEOUT)
    assert response.status_code == 504
    assert response.json()["code"] == "upstream_timeout"


def test_a_connect_timeout_is_503(edge, auth):
    response = requests.get(f"{edge.url}/api/jammed/", headers=auth, timeout=TIMEOUT)
    assert response.status_code == 503
    assert response.json()["code"] == "upstream_unavailable"


def test_a_slow_upstream_blocks_neither_other_routes_nor_its_pool_forever(
    edge, fakes, auth
):
    held: list[requests.Response] = []

    def hold() -> None:
        held.append(
            requests.get(f"{edge.url}/api/echo/hold/", headers=auth, timeout=TIMEOUT)
        )

    holders = [threading.Thread(target=hold) for _ in range(2)]
    for thread in holders:
        thread.start()
    try:
        for _ in holders:  # both pooled connections are now in use
            assert fakes.echo.holding.acquire(timeout=TIMEOUT)
        busy = requests.get(f"{edge.url}/api/echo/", headers=auth, timeout=TIMEOUT)
        other = requests.get(
            f"{edge.url}/api/customers/", headers=auth, timeout=TIMEOUT
        )
    finally:
        fakes.echo.release.set()
        for thread in holders:
            thread.join(timeout=TIMEOUT)
        fakes.echo.release.clear()
    assert busy.status_code == 503
    assert busy.json()["code"] == "upstream_busy"
    assert other.status_code == 200
    assert [r.status_code for r in held] == [200, 200]


# -- request id and the log line ---------------------------------------------------
def test_request_id_is_passed_on_and_logged_on_one_line(edge, fakes, auth):
    response = requests.get(
        f"{edge.url}/api/echo/rid/?q=secret",
        headers={**auth, "X-Request-ID": "e2e-proxy-rid-1"},
        timeout=TIMEOUT,
    )
    assert response.headers["X-Request-ID"] == "e2e-proxy-rid-1"
    (recorded,) = seen_by_echo(fakes, "/rid/")
    assert recorded.header("X-Request-ID") == "e2e-proxy-rid-1"
    lines = [
        line
        for line in edge.log.read_text().splitlines()
        if "[e2e-proxy-rid-1]" in line and "gateway_project.proxy" in line
    ]
    assert len(lines) == 1
    assert re.search(
        r"GET /api/echo/rid/ 200 upstream=http://127\.0\.0\.1:\d+ upstream_ms=[\d.]+$",
        lines[0],
    )
    assert "secret" not in lines[0]


def test_the_gateway_stayed_healthy_through_the_faults(edge):
    assert edge.process.poll() is None
    assert requests.get(f"{edge.url}/healthz", timeout=TIMEOUT).status_code == 200
    log = edge.log.read_text()
    assert "Traceback" not in log
    assert "WORKER TIMEOUT" not in log
