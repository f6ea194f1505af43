"""The token-exchanging ServiceSession."""

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


def test_view_sends_an_exchanged_token_and_the_request_id(
    api, jwks_server, make_token, token_endpoint
):
    jwks_server.routes["/echo/"] = echo
    token = make_token()
    response = api.get(
        f"/call-other/?url={jwks_server.url}",
        HTTP_AUTHORIZATION=f"Bearer {token}",
        HTTP_X_REQUEST_ID="req-123.abc",
    )
    assert response.status_code == 200
    seen = response.json()
    assert seen["Authorization"] == "Bearer xchg.echo.0"
    assert token not in json.dumps(seen)
    assert seen["X-Request-ID"] == "req-123.abc"
    assert "Cookie" not in seen
    [exchange] = token_endpoint.seen
    assert exchange["subject_token"] == token
    assert exchange["audience"] == "echo"
    assert exchange["_request_id"] == "req-123.abc"


def test_view_gets_503_naming_the_service_when_unreachable(
    api, jwks_server, make_token, token_endpoint
):
    response = api.get(
        f"/call-other/?url={refused_base_url()}",
        HTTP_AUTHORIZATION=f"Bearer {make_token()}",
    )
    assert response.status_code == 503
    assert response.json() == {"detail": "The echo service is unavailable."}


@pytest.mark.parametrize(
    "answer",
    [
        lambda form: (400, {"error": "invalid_grant"}),
        lambda form: (401, {"error": "invalid_client"}),
        lambda form: (500, {"detail": "boom"}),
        lambda form: (200, {"token_type": "Bearer", "expires_in": 60}),
        lambda form: (200, ["not", "an", "object"]),
    ],
    ids=["invalid_grant", "invalid_client", "500", "no token", "not an object"],
)
def test_refused_exchange_is_a_clean_503_and_nothing_is_sent(
    api, jwks_server, make_token, token_endpoint, answer
):
    jwks_server.routes["/echo/"] = echo
    token_endpoint.answer = answer
    response = api.get(
        f"/call-other/?url={jwks_server.url}",
        HTTP_AUTHORIZATION=f"Bearer {make_token()}",
    )
    assert response.status_code == 503
    assert response.json()["detail"] == (
        "The token for the echo service could not be obtained; try again later."
    )
    assert jwks_server.hits["/echo/"] == 0


def test_token_endpoint_down_is_a_503_and_the_user_token_is_never_sent(
    api, jwks_server, make_token, settings
):
    jwks_server.routes["/echo/"] = echo
    settings.SHARED_AUTH = {
        **settings.SHARED_AUTH,
        "TOKEN_URL": f"{refused_base_url()}/token/",
        "CLIENT_ID": "orders",
        "CLIENT_SECRET": "s",
    }
    response = api.get(
        f"/call-other/?url={jwks_server.url}",
        HTTP_AUTHORIZATION=f"Bearer {make_token()}",
    )
    assert response.status_code == 503
    assert jwks_server.hits["/echo/"] == 0


def test_interleaved_users_on_many_threads_never_leak(server, token_endpoint):
    server.routes["/echo/"] = EchoWithCookie()
    token_endpoint.answer = lambda form: (
        200,
        {
            "access_token": f"for-{form['subject_token']}",
            "token_type": "Bearer",
            "expires_in": 300,
        },
    )
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
        assert seen["Authorization"] == f"Bearer for-{token}"
        assert seen["X-Request-ID"] == f"rid-{token.split('.')[1][4:]}"
        assert "Cookie" not in seen
    assert "Authorization" not in shared.headers
    assert len(shared.cookies) == 0
    assert len(token_endpoint.seen) == 8  # one exchange per user, then cached


def test_explicit_token_outside_a_request_is_sent_as_is(echo_server):
    """A job's own (machine) token: nothing to exchange."""
    session = ServiceSession(echo_server.url, "echo", token="x.y.z")
    rid = request_id_var.set("job-7")
    try:
        seen = session.get("echo/").json()
    finally:
        request_id_var.reset(rid)
    assert seen["Authorization"] == "Bearer x.y.z"
    assert seen["X-Request-ID"] == "job-7"
    assert "Authorization" not in session.headers


def test_explicit_request_is_exchanged_for_the_audience_and_scope(
    echo_server, token_endpoint
):
    session = ServiceSession(
        echo_server.url,
        "echo",
        audience="customers",
        scope="customers:read reservations:write",
        request=django_request("t.o.k", "rid-9"),
    )
    seen = session.post("/echo/", json={"a": 1}).json()
    assert seen["Authorization"] == "Bearer xchg.customers.0"
    assert seen["X-Request-ID"] == "rid-9"
    [form] = token_endpoint.seen
    assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:token-exchange"
    assert form["subject_token_type"] == (
        "urn:ietf:params:oauth:token-type:access_token"
    )
    assert form["subject_token"] == "t.o.k"
    assert form["scope"] == "customers:read reservations:write"
    assert form["_basic"] == "orders:s3cret%3A%2Fx"  # RFC 6749 2.3.1 encoding


def test_no_request_sends_no_credentials_and_a_new_request_id(
    echo_server, token_endpoint
):
    seen = ServiceSession(echo_server.url, "echo").get("/echo/").json()
    assert "Authorization" not in seen
    assert len(seen["X-Request-ID"]) == 32
    assert token_endpoint.seen == []


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
