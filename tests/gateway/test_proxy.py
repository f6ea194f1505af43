"""The proxy view against real local upstreams (tests/support/proxy_fakes.py)."""

import gzip
import json
import logging
import threading

import jwt
import pytest
from django.conf import settings
from django.test import Client, RequestFactory
from django.urls import resolve

from gateway_project.identity.tokens import access_token_for
from gateway_project.proxy.middleware import is_bearer_api_request
from gateway_project.proxy.upstreams import proxy_config
from gateway_project.proxy.views import proxy
from tests.support.proxy_fakes import (
    GZIPPED,
    STREAM_CHUNK,
    STREAM_CHUNKS,
    JammedUpstream,
    RecordingUpstream,
    SilentUpstream,
    dead_url,
)


@pytest.fixture
def upstream():
    server = RecordingUpstream()
    yield server
    server.close()


@pytest.fixture
def silent():
    server = SilentUpstream()
    yield server
    server.close()


@pytest.fixture
def jammed():
    server = JammedUpstream()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def routes(settings, upstream, silent, jammed):
    """/api/orders/ -> the recording upstream, and one route per failure."""
    settings.GATEWAY_PROXY = {
        "ROUTES": {
            "/api/orders/": upstream.url,
            "/api/customers/": f"{upstream.url}/base",
            "/api/dead/": dead_url(),
            "/api/silent/": silent.url,
            "/api/jammed/": jammed.url,
        },
        "CONNECT_TIMEOUT": 0.5,
        "READ_TIMEOUT": 0.5,
        "POOL_TIMEOUT": 0.2,
        "POOL_SIZE": 1,
        "MAX_BODY_SIZE": 1000,
    }
    yield settings.GATEWAY_PROXY
    proxy_config.cache_clear()


@pytest.fixture
def access(alice) -> str:
    return access_token_for(alice)


@pytest.fixture
def bearer(access) -> dict[str, str]:
    return {"Authorization": f"Bearer {access}"}


def only_request(upstream):
    assert len(upstream.requests) == 1
    return upstream.requests[0]


def body(response) -> bytes:
    """Return the relayed body, streamed or whole (``views._relay``)."""
    if response.streaming:
        return b"".join(response.streaming_content)
    return response.content


def echoed(response) -> dict:
    assert response.status_code == 200, response.content
    return json.loads(body(response))


# -- routing -----------------------------------------------------------------------
@pytest.mark.django_db
def test_path_query_method_body_and_content_type_are_forwarded(
    client, upstream, bearer
):
    response = client.post(
        "/api/orders/7/cancel/?a=1&b=%20two",
        data=b'{"total": "3.50"}',
        content_type="application/json",
        headers=bearer,
    )
    seen = echoed(response)
    assert seen["method"] == "POST"
    assert seen["target"] == "/api/orders/7/cancel/?a=1&b=%20two"
    assert seen["body"] == '{"total": "3.50"}'
    assert seen["headers"]["content-type"] == "application/json"
    assert seen["headers"]["content-length"] == "17"
    assert seen["headers"]["host"] == upstream.url.removeprefix("http://")


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "put", "patch", "delete", "options"])
def test_every_api_method_is_forwarded(client, upstream, bearer, method):
    response = getattr(client, method)("/api/orders/1/", headers=bearer)
    assert echoed(response)["method"] == method.upper()


@pytest.mark.django_db
def test_head_is_forwarded(client, upstream, bearer):
    response = client.head("/api/orders/", headers=bearer)
    assert response.status_code == 200
    assert only_request(upstream).method == "HEAD"


@pytest.mark.django_db
def test_the_base_url_path_goes_before_the_forwarded_path(client, upstream, bearer):
    seen = echoed(client.get("/api/customers/3/", headers=bearer))
    assert seen["target"] == "/base/api/customers/3/"


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/nope/", "/api/orders", "/api/", "/api/x/y"])
def test_unknown_api_prefix_is_a_json_404_at_the_gateway(
    client, upstream, bearer, path
):
    response = client.get(path, headers=bearer)
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found"}
    assert upstream.requests == []


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "PROPFIND"])
def test_other_methods_are_refused(client, upstream, bearer, method):
    response = client.generic(method, "/api/orders/", headers=bearer)
    assert response.status_code == 405
    assert "GET" in response["Allow"]
    assert upstream.requests == []


# -- path safety -------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize(
    "raw",
    [
        "/api/orders/../../admin/",
        "/api/orders/%2e%2e/%2E%2e/admin/",
        "/api/orders/..%2fadmin/",
        "/api/orders/%2fadmin",
        "/api/orders/..%5cadmin",
        "/api/orders/a\\b",
        "/api/orders/%00",
        "/api/orders/%252e%252e/",
        "/api/orders//admin/",
        "//127.0.0.2:9/api/orders/",
        "http://127.0.0.2:9/api/orders/",
        "/api/orders/%zz",
        "/api/orders/%ff",
    ],
)
def test_unsafe_raw_paths_are_400_before_routing(client, upstream, bearer, raw):
    # RAW_URI is the target as gunicorn received it, before it decoded the path.
    response = client.get("/api/orders/x", headers=bearer, RAW_URI=raw)
    assert response.status_code == 400
    assert response.json() == {
        "detail": "Invalid request path.",
        "code": "invalid_path",
    }
    assert upstream.requests == []


@pytest.mark.django_db
def test_an_at_sign_never_changes_the_upstream_host(client, upstream, bearer):
    response = client.get(
        "/api/orders/x", headers=bearer, RAW_URI="/api/orders@127.0.0.2:9/"
    )
    assert response.status_code == 404
    seen = echoed(client.get("/api/orders/@127.0.0.2:9/", headers=bearer))
    assert seen["target"] == "/api/orders/@127.0.0.2:9/"


@pytest.mark.django_db
def test_encoded_characters_are_forwarded_as_sent(client, upstream, bearer):
    raw = "/api/orders/caf%C3%A9/%6B"
    seen = echoed(client.get("/api/orders/x", headers=bearer, RAW_URI=raw))
    assert seen["target"] == raw


# -- edge authentication -----------------------------------------------------------
@pytest.mark.django_db
def test_no_credentials_is_401_and_the_service_never_sees_it(client, upstream):
    response = client.post("/api/orders/", data={}, content_type="application/json")
    assert response.status_code == 401
    assert response.json()["detail"]
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json()["code"] == "not_authenticated"
    assert upstream.requests == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    "authorization", ["Bearer not.a.token", "Bearer", "Bearer a b", "Bearer x.y.z"]
)
def test_a_bad_bearer_token_is_401_even_with_a_session(
    client, upstream, alice, authorization
):
    client.force_login(alice)
    response = client.get("/api/orders/", headers={"Authorization": authorization})
    assert response.status_code == 401
    assert "invalid_token" in response["WWW-Authenticate"]
    assert upstream.requests == []


@pytest.mark.django_db
def test_an_inactive_users_session_is_401(client, upstream, alice):
    client.force_login(alice)
    alice.is_active = False
    alice.save()
    assert client.get("/api/orders/").status_code == 401
    assert upstream.requests == []


@pytest.mark.django_db
def test_a_bearer_token_is_verified_and_forwarded(client, upstream, access):
    response = client.get(
        "/api/orders/",
        headers={"Authorization": f"Bearer {access}", "Cookie": "sessionid=x"},
    )
    seen = echoed(response)
    assert seen["headers"]["authorization"] == f"Bearer {access}"
    assert "cookie" not in seen["headers"]


@pytest.mark.django_db
def test_a_session_gets_a_minted_token_and_no_cookie_goes_on(client, upstream, alice):
    client.force_login(alice)
    seen = echoed(client.get("/api/orders/"))
    scheme, token = seen["headers"]["authorization"].split()
    claims = jwt.decode(token, options={"verify_signature": False})
    assert scheme == "Bearer"
    assert (claims["sub"], claims["username"]) == (str(alice.pk), "alice")
    assert "cookie" not in seen["headers"]


@pytest.mark.django_db
def test_session_callers_need_the_csrf_token_on_unsafe_methods(upstream, alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    refused = client.post("/api/orders/", data={}, content_type="application/json")
    assert refused.status_code == 403
    assert refused.json()["detail"].startswith("CSRF Failed")
    assert upstream.requests == []

    assert echoed(client.get("/api/orders/"))["method"] == "GET"  # safe: no token
    client.get("/api-auth/login/")  # sets the csrftoken cookie
    csrf = client.cookies["csrftoken"].value
    response = client.post(
        "/api/orders/",
        data=b"{}",
        content_type="application/json",
        headers={"X-CSRFToken": csrf},
    )
    assert response.status_code == 200
    assert len(upstream.requests) == 2


@pytest.mark.django_db
def test_a_session_form_post_with_its_csrf_field_is_forwarded_whole(upstream, alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    client.get("/api-auth/login/")
    csrf = client.cookies["csrftoken"].value
    response = client.post(
        "/api/orders/", data={"csrfmiddlewaretoken": csrf, "total": "5"}
    )
    seen = echoed(response)
    assert seen["headers"]["content-type"].startswith("multipart/form-data")
    assert 'name="total"\r\n\r\n5' in seen["body"]


# -- header hygiene ----------------------------------------------------------------
SPOOFED = {
    "X-Forwarded-For": "6.6.6.6",
    "X-Forwarded-Host": "evil.example",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Prefix": "/evil",
    "Forwarded": "for=6.6.6.6;host=evil.example",
    "X-Real-IP": "6.6.6.6",
    "X-User-Id": "1",
    "X-User": "admin",
    "X-Authenticated-User": "admin",
    "X-Authenticated-Userid": "1",
    "X-Remote-User": "admin",
    "X-Auth-Request-User": "admin",
    "Remote-User": "admin",
    "X-Original-URL": "/admin/",
    "Proxy-Authorization": "Basic YTpi",
    "Keep-Alive": "timeout=5",
    "TE": "trailers",
    "Upgrade": "websocket",
    "Cookie": "sessionid=stolen",
}


@pytest.mark.django_db
def test_spoofed_forwarding_identity_and_hop_headers_are_dropped(
    client, upstream, access
):
    headers = {
        **SPOOFED,
        "Authorization": f"Bearer {access}",
        "Connection": "keep-alive, X-Custom-Hop",
        "X-Custom-Hop": "secret",
        "X-End-To-End": "kept",
        "Accept": "application/json",
    }
    seen = echoed(client.get("/api/orders/", headers=headers))["headers"]
    set_by_gateway = {"x-forwarded-for", "x-forwarded-host", "x-forwarded-proto"}
    dropped = {n.lower() for n in [*SPOOFED, "Connection", "X-Custom-Hop"]}
    assert not (dropped - set_by_gateway) & set(seen)
    assert seen["x-forwarded-for"] == "127.0.0.1"
    assert seen["x-forwarded-host"] == "testserver"
    assert seen["x-forwarded-proto"] == "http"
    assert seen["authorization"] == f"Bearer {access}"
    assert (seen["x-end-to-end"], seen["accept"]) == ("kept", "application/json")


@pytest.mark.django_db
def test_connection_naming_authorization_cannot_strip_the_gateways_token(
    client, upstream, access
):
    headers = {
        "Authorization": f"Bearer {access}",
        "Connection": "Authorization, X-Forwarded-For, X-Request-ID",
        "X-Request-ID": "req-1",
    }
    response = client.get("/api/orders/", headers=headers)
    seen = echoed(response)["headers"]
    assert seen["authorization"] == f"Bearer {access}"
    assert seen["x-forwarded-for"] == "127.0.0.1"
    assert seen["x-request-id"] == "req-1"


@pytest.mark.django_db
def test_hop_by_hop_response_headers_are_dropped_and_the_rest_kept(
    client, upstream, bearer
):
    response = client.get("/api/orders/hop/", headers=bearer)
    assert response.status_code == 200
    for name in ("Connection", "Keep-Alive", "X-Hop-Secret", "Trailer"):
        assert name not in response, name
    assert "Proxy-Authenticate" not in response
    assert response["Vary"] == "Accept, Accept-Language"
    assert response.cookies["first"].value == "1"
    assert response.cookies["second"]["httponly"]
    assert response["Content-Type"] == "application/json"


# -- bodies ------------------------------------------------------------------------
@pytest.mark.django_db
def test_an_oversized_body_is_413_before_anything_is_forwarded(
    client, upstream, bearer
):
    response = client.post(
        "/api/orders/",
        data=b"x" * 1001,
        content_type="application/octet-stream",
        headers=bearer,
    )
    assert response.status_code == 413
    assert response.json() == {
        "detail": "Request body too large.",
        "code": "request_too_large",
    }
    assert upstream.requests == []


@pytest.mark.django_db
def test_a_body_at_the_limit_is_forwarded(client, upstream, bearer):
    response = client.post(
        "/api/orders/", data=b"x" * 1000, content_type="text/plain", headers=bearer
    )
    assert len(echoed(response)["body"]) == 1000


@pytest.mark.django_db
def test_responses_are_streamed_not_buffered(client, upstream, bearer):
    response = client.get("/api/orders/stream/", headers=bearer)
    assert response.status_code == 200
    assert response.streaming
    assert "Content-Length" not in response
    chunks = list(response.streaming_content)
    assert len(chunks) > 1
    assert b"".join(chunks) == STREAM_CHUNK * STREAM_CHUNKS


@pytest.mark.django_db
def test_gzip_is_relayed_untouched(client, upstream, bearer):
    response = client.get(
        "/api/orders/gzip/", headers={**bearer, "Accept-Encoding": "gzip"}
    )
    assert response["Content-Encoding"] == "gzip"
    assert response["Content-Length"] == str(len(GZIPPED))
    assert body(response) == GZIPPED
    assert json.loads(gzip.decompress(GZIPPED)) == {"compressed": True}
    assert only_request(upstream).header("Accept-Encoding") == "gzip"


@pytest.mark.django_db
def test_redirects_are_passed_back_not_followed(client, upstream, bearer):
    response = client.get("/api/orders/redirect/", headers=bearer)
    assert response.status_code == 302
    assert response["Location"] == "/api/orders/elsewhere/"
    assert body(response)
    assert only_request(upstream).target == "/api/orders/redirect/"


@pytest.mark.django_db
def test_upstream_errors_are_relayed_as_they_are(client, upstream, bearer):
    response = client.get("/api/orders/unavailable/", headers=bearer)
    assert response.status_code == 503
    assert response["Retry-After"] == "7"
    assert json.loads(body(response)) == {"detail": "service says no"}


@pytest.mark.django_db
def test_a_folded_response_header_is_unfolded(client, upstream, bearer):
    response = client.get("/api/orders/folded/", headers=bearer)
    assert response.status_code == 200
    assert response["X-Folded"] == "a b"
    assert body(response) == b"{}"


@pytest.mark.django_db
def test_a_status_code_http_does_not_have_is_502(client, upstream, bearer):
    response = client.get("/api/orders/bad-status/", headers=bearer)
    assert response.status_code == 502
    assert response.json()["code"] == "bad_gateway"
    # POOL_SIZE is 1: the connection slot came back.
    assert echoed(client.get("/api/orders/", headers=bearer))["method"] == "GET"


@pytest.mark.django_db
def test_a_response_closed_early_gives_its_connection_back(client, upstream, bearer):
    response = client.get("/api/orders/stream/", headers=bearer)
    next(iter(response.streaming_content))
    response.close()  # the client went away mid-body
    # POOL_SIZE is 1: the next request only gets through if the slot came back.
    assert echoed(client.get("/api/orders/", headers=bearer))["method"] == "GET"


# -- upstream failures -------------------------------------------------------------
@pytest.mark.django_db
def test_a_dead_upstream_is_502(client, bearer):
    response = client.get("/api/dead/", headers=bearer)
    assert response.status_code == 502
    assert response.json() == {
        "detail": "Upstream service refused the connection.",
        "code": "upstream_refused",
    }


@pytest.mark.django_db
def test_a_silent_upstream_is_504(client, bearer, silent):
    response = client.get("/api/silent/", headers=bearer)
    assert response.status_code == 504
    assert response.json() == {
        "detail": "Upstream service timed out.",
        "code": "upstream_timeout",
    }


@pytest.mark.django_db
def test_a_connect_timeout_is_503(client, bearer):
    response = client.get("/api/jammed/", headers=bearer)
    assert response.status_code == 503
    assert response.json() == {
        "detail": "Upstream service unavailable.",
        "code": "upstream_unavailable",
    }


@pytest.mark.django_db(transaction=True)
def test_no_free_connection_is_503_and_other_routes_still_answer(
    upstream, bearer, routes, settings
):
    settings.GATEWAY_PROXY = {**routes, "READ_TIMEOUT": 10}
    held = {}

    def hold() -> None:
        held["response"] = Client().get("/api/orders/hold/", headers=bearer)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert upstream.holding.acquire(timeout=10)  # the one connection is in use
        busy = Client().get("/api/orders/", headers=bearer)
        other = Client().get("/api/customers/", headers=bearer)
    finally:
        upstream.release.set()
        holder.join(timeout=10)
    assert busy.status_code == 503
    assert busy.json() == {
        "detail": "Upstream service busy: no free connection.",
        "code": "upstream_busy",
    }
    assert other.status_code == 200
    assert held["response"].status_code == 200


# -- request id and the log line ---------------------------------------------------
@pytest.mark.django_db
def test_request_id_is_passed_on_and_logged_once(client, upstream, bearer, caplog):
    with caplog.at_level(logging.INFO, logger="gateway_project.proxy.views"):
        response = client.get(
            "/api/orders/5/?secret=1", headers={**bearer, "X-Request-ID": "rid-42"}
        )
    assert response["X-Request-ID"] == "rid-42"
    assert echoed(response)["headers"]["x-request-id"] == "rid-42"
    lines = [r for r in caplog.records if r.name == "gateway_project.proxy.views"]
    assert len(lines) == 1
    message = lines[0].getMessage()
    assert message.startswith("GET /api/orders/5/ 200 upstream=http://127.0.0.1:")
    assert "upstream_ms=" in message and "secret" not in message
    assert lines[0].request_id == "rid-42"


@pytest.mark.django_db
def test_a_new_request_id_is_made_and_passed_on(client, upstream, bearer):
    response = client.get("/api/orders/", headers={**bearer, "X-Request-ID": "a b"})
    assert echoed(response)["headers"]["x-request-id"] == response["X-Request-ID"]
    assert response["X-Request-ID"] != "a b"


@pytest.mark.django_db
def test_refusals_are_logged_without_an_upstream_time(client, caplog):
    with caplog.at_level(logging.INFO, logger="gateway_project.proxy.views"):
        client.get("/api/orders/")
    (line,) = [r for r in caplog.records if r.name == "gateway_project.proxy.views"]
    assert line.getMessage().endswith(
        "401 upstream=" + proxy_config().route("/api/orders/").name + " upstream_ms=-"
    )


# -- the fast path (proxy.middleware): same answers as the whole chain -------------
FAST_PATH = "gateway_project.proxy.middleware.BearerProxyMiddleware"


@pytest.mark.parametrize("path", ["/api/", "/api/orders/1/", "/api/x/y"])
def test_every_api_path_resolves_to_the_proxy_view_the_fast_path_calls(path):
    assert resolve(path).func is proxy


def test_the_fast_path_runs_after_request_id_forwarding_and_security():
    names = settings.MIDDLEWARE
    assert (
        names.index(FAST_PATH)
        == names.index("django.middleware.security.SecurityMiddleware") + 1
    )
    assert names.index(FAST_PATH) < names.index(
        "django.contrib.sessions.middleware.SessionMiddleware"
    )


@pytest.mark.parametrize(
    ("path", "authorization", "fast"),
    [
        ("/api/orders/", "Bearer abc", True),
        ("/api/orders/", "bearer abc", True),
        ("/api/orders/", "BEARER", True),  # malformed: the view answers 401
        ("/api/orders/", "Basic YTpi", False),
        ("/api/orders/", "", False),
        ("/api-auth/login/", "Bearer abc", False),
        ("/auth/me/", "Bearer abc", False),
    ],
)
def test_only_bearer_api_requests_take_the_fast_path(path, authorization, fast):
    headers = {"Authorization": authorization} if authorization else {}
    request = RequestFactory().get(path, headers=headers)
    assert is_bearer_api_request(request.META) is fast


@pytest.mark.django_db
def test_fast_path_answers_carry_what_the_whole_chain_adds(client, upstream, bearer):
    response = client.get("/api/orders/1/", headers=bearer)
    echoed(response)
    assert response["X-Request-ID"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "Set-Cookie" not in response and "Vary" not in response
    refused = client.get("/api/nope/", headers=bearer)
    assert refused.status_code == 404
    assert refused["X-Frame-Options"] == "DENY"
    assert refused["Content-Length"] == str(len(refused.content))


@pytest.mark.django_db
def test_a_bad_bearer_token_is_401_before_any_session_is_read(client, upstream):
    response = client.get("/api/orders/", headers={"Authorization": "Bearer x.y.z"})
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith('Bearer realm="api"')
    assert response.json()["code"] == "token_not_valid"
    assert upstream.requests == []
