"""The token-propagating ServiceSession."""

import json
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.test import RequestFactory
from urllib3.exceptions import MaxRetryError, NewConnectionError

from shared_auth.context import current_request_var, request_id_var
from shared_auth.exceptions import ServiceTimeout, ServiceUnavailable
from shared_auth.session import IdempotentRetry, ServiceSession


def echo(handler) -> tuple[int, str, str]:
    """Answer with the headers received, and try to plant a cookie."""
    return 200, "application/json", json.dumps(dict(handler.headers.items()))


class EchoWithCookie:
    def __call__(self, handler):
        status, content_type, body = echo(handler)
        handler.send_response(status)
        handler.send_header("Set-Cookie", "sessionid=planted; Path=/")
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body.encode())
        return None


@pytest.fixture
def echo_server(server):
    server.routes["/echo/"] = echo
    return server


def refused_base_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def django_request(token: str, request_id: str):
    request = RequestFactory().get("/", HTTP_AUTHORIZATION=f"bearer {token}")
    request.request_id = request_id
    return request


def test_view_propagates_token_and_request_id(api, jwks_server, make_token):
    jwks_server.routes["/echo/"] = echo
    token = make_token()
    response = api.get(
        f"/call-other/?url={jwks_server.url}",
        HTTP_AUTHORIZATION=f"Bearer {token}",
        HTTP_X_REQUEST_ID="req-123.abc",
    )
    assert response.status_code == 200
    seen = response.json()
    assert seen["Authorization"] == f"Bearer {token}"
    assert seen["X-Request-ID"] == "req-123.abc"
    assert "Cookie" not in seen


def test_view_gets_503_naming_the_service_when_unreachable(
    api, jwks_server, make_token
):
    response = api.get(
        f"/call-other/?url={refused_base_url()}",
        HTTP_AUTHORIZATION=f"Bearer {make_token()}",
    )
    assert response.status_code == 503
    assert response.json() == {"detail": "The echo service is unavailable."}


def test_interleaved_users_on_many_threads_never_leak(server):
    server.routes["/echo/"] = EchoWithCookie()
    shared = ServiceSession(server.url, "echo")  # module-level style: one for all
    barrier = threading.Barrier(8)

    def call_as(user: int) -> list[tuple[str, dict]]:
        token = f"aaa.user{user}.sig"
        context_token = current_request_var.set(django_request(token, f"rid-{user}"))
        barrier.wait()
        try:
            return [(token, shared.get("/echo/").json()) for _ in range(10)]
        finally:
            current_request_var.reset(context_token)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = [item for batch in pool.map(call_as, range(8)) for item in batch]

    assert len(results) == 80
    for token, seen in results:
        assert seen["Authorization"] == f"Bearer {token}"
        assert seen["X-Request-ID"] == f"rid-{token.split('.')[1][4:]}"
        assert "Cookie" not in seen
    assert "Authorization" not in shared.headers
    assert len(shared.cookies) == 0


def test_explicit_token_outside_a_request(echo_server):
    session = ServiceSession(echo_server.url, "echo", token="x.y.z")
    rid = request_id_var.set("job-7")
    try:
        seen = session.get("echo/").json()
    finally:
        request_id_var.reset(rid)
    assert seen["Authorization"] == "Bearer x.y.z"
    assert seen["X-Request-ID"] == "job-7"
    assert "Authorization" not in session.headers


def test_explicit_request(echo_server):
    session = ServiceSession(
        echo_server.url, "echo", request=django_request("t.o.k", "rid-9")
    )
    seen = session.post("/echo/", json={"a": 1}).json()
    assert seen["Authorization"] == "Bearer t.o.k"
    assert seen["X-Request-ID"] == "rid-9"


def test_no_request_sends_no_credentials_and_a_new_request_id(echo_server):
    seen = ServiceSession(echo_server.url, "echo").get("/echo/").json()
    assert "Authorization" not in seen
    assert len(seen["X-Request-ID"]) == 32


def test_caller_supplied_authorization_is_replaced(echo_server):
    session = ServiceSession(echo_server.url, "echo", token="mine.to.ken")
    seen = session.get("/echo/", headers={"Authorization": "Basic eA=="}).json()
    assert seen["Authorization"] == "Bearer mine.to.ken"


def test_refused_connection_raises_service_unavailable():
    session = ServiceSession(refused_base_url(), "customers")
    with pytest.raises(ServiceUnavailable) as caught:
        session.post("/api/customers/1/reservations/", json={})
    assert not isinstance(caught.value, ServiceTimeout)
    assert caught.value.status_code == 503
    assert caught.value.get_codes() == "service_unavailable"
    assert "customers" in str(caught.value.detail)


def test_read_timeout_raises_service_timeout(server):
    server.routes["/slow/"] = "hang"
    session = ServiceSession(server.url, "customers")  # SESSION_TIMEOUT read 0.5 s
    with pytest.raises(ServiceTimeout) as caught:
        session.post("/slow/", json={})
    assert caught.value.status_code == 503
    assert "customers" in str(caught.value.detail)
    assert server.hits["/slow/"] == 1  # a POST that may have arrived: not resent


def test_redirects_are_not_followed(server, echo_server):
    server.routes["/moved/"] = lambda handler: (302, "text/plain", "")
    response = ServiceSession(server.url, "echo").get("/moved/")
    assert response.status_code == 302


def test_other_origins_are_refused(echo_server):
    session = ServiceSession(echo_server.url, "echo", token="a.b.c")
    with pytest.raises(ValueError):
        session.get("http://evil.test/steal")
    with pytest.raises(ValueError):
        session.get("//evil.test/steal")
    assert session.get(f"{echo_server.url}/echo/").status_code == 200


def test_retry_policy_retries_connection_errors_of_idempotent_methods_only():
    retry = IdempotentRetry(total=2, connect=2, read=False, status=0, other=0)
    error = NewConnectionError(None, "refused")
    assert retry.increment("GET", "/x", error=error).connect == 1
    assert retry.increment("PUT", "/x", error=error).connect == 1
    for method in ("POST", "PATCH"):
        with pytest.raises(MaxRetryError):
            retry.increment(method, "/x", error=error)
