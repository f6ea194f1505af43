"""The gateway's WSGI handler (``proxy.handler``): the fast path sends no request
signals, answers a whole body as one bytes object, and releases what a streamed
one holds; every other request is Django's, signals included.

Called as a WSGI server calls it, against a real local upstream.
"""

import json

import pytest
from django.core.signals import request_finished, request_started
from django.test import RequestFactory

from gateway_project.identity import revocation_memo
from gateway_project.identity.tokens import access_token_for
from gateway_project.proxy.handler import GatewayWSGIHandler, Streamed
from gateway_project.proxy.upstreams import proxy_config
from gateway_project.wsgi import application
from tests.support.proxy_fakes import (
    STREAM_CHUNK,
    STREAM_CHUNKS,
    CannedUpstream,
    RecordingUpstream,
)


@pytest.fixture
def upstream(settings):
    """/api/orders/ -> a recording service; /api/canned/ -> one that sends each
    answer in one write (so its body comes whole with the head)."""
    server, canned = RecordingUpstream(), CannedUpstream()
    settings.GATEWAY_PROXY = {
        "ROUTES": {"/api/orders/": server.url, "/api/canned/": canned.url},
        "POOL_SIZE": 1,
    }
    yield server
    server.close()
    canned.close()
    proxy_config.cache_clear()


@pytest.fixture
def bearer(alice) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token_for(alice)}"}


@pytest.fixture
def signals() -> list[str]:
    """Record every request signal sent while the test runs."""
    sent: list[str] = []

    def started(**kwargs) -> None:
        sent.append("started")

    def finished(**kwargs) -> None:
        sent.append("finished")

    request_started.connect(started)
    request_finished.connect(finished)
    yield sent
    request_started.disconnect(started)
    request_finished.disconnect(finished)


def call(path: str, headers: dict[str, str] | None = None) -> tuple[str, dict, object]:
    """Return (status line, headers, body iterable) of one WSGI call."""
    environ = RequestFactory().get(path, headers=headers or {}).environ
    answer: dict = {}

    def start_response(status: str, fields: list, exc_info: object = None) -> None:
        answer.update(status=status, headers=dict(fields))

    result = GatewayWSGIHandler()(environ, start_response)
    return answer["status"], answer["headers"], result


def test_the_gateway_serves_through_its_handler():
    assert isinstance(application, GatewayWSGIHandler)


@pytest.mark.django_db
def test_a_proxied_answer_sends_no_request_signal(upstream, bearer, signals):
    status, headers, result = call("/api/canned/1/", bearer)
    assert status == "200 OK"
    assert isinstance(result, list) and len(result) == 1  # whole: one bytes object
    assert json.loads(result[0]) == {"connection": 1}
    assert headers["Content-Length"] == str(len(result[0]))
    assert headers["X-Frame-Options"] == "DENY"  # the middleware still ran
    assert headers["X-Request-ID"]
    assert signals == []


@pytest.mark.django_db
def test_a_streamed_answer_closes_without_request_finished(upstream, bearer, signals):
    status, headers, result = call("/api/orders/stream/", bearer)
    assert isinstance(result, Streamed)
    assert b"".join(result) == STREAM_CHUNK * STREAM_CHUNKS
    result.close()
    assert signals == []
    # POOL_SIZE is 1: the next request only gets through if the slot came back.
    assert call("/api/orders/1/", bearer)[0] == "200 OK"


@pytest.mark.django_db
def test_a_streamed_answer_closed_early_gives_its_connection_back(upstream, bearer):
    result = call("/api/orders/stream/", bearer)[2]
    next(iter(result))
    result.close()  # the client went away mid-body
    assert call("/api/orders/1/", bearer)[0] == "200 OK"


@pytest.mark.django_db
def test_a_refused_token_is_answered_on_the_fast_path(upstream, signals):
    status, headers, result = call("/api/orders/1/", {"Authorization": "Bearer x.y.z"})
    assert status == "401 Unauthorized"
    assert headers["WWW-Authenticate"].startswith('Bearer realm="api"')
    assert json.loads(b"".join(result))["code"] == "token_not_valid"
    assert signals == []
    assert upstream.requests == []


@pytest.mark.django_db
def test_the_fast_path_forwards_the_host_a_trusted_proxy_gave(
    upstream, bearer, settings
):
    settings.ALLOWED_HOSTS = ["gateway.example"]
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    forwarded = {"X-Forwarded-Host": "gateway.example", "X-Forwarded-Proto": "https"}
    status = call("/api/orders/1/", {**bearer, **forwarded})[0]
    assert status == "200 OK"
    assert upstream.requests[-1].header("X-Forwarded-Host") == "gateway.example"


@pytest.mark.django_db
@pytest.mark.parametrize("host", ["evil.example", "gateway.example@evil.example"])
def test_the_fast_path_refuses_a_host_not_allowed(upstream, bearer, settings, host):
    settings.ALLOWED_HOSTS = ["gateway.example"]
    status = call("/api/orders/1/", {**bearer, "Host": host})[0]
    assert status == "400 Bad Request"
    assert upstream.requests == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/healthz", {}),
        ("/api/orders/1/", {}),  # no bearer token: the whole chain (sessions)
        ("/api/orders/1/", {"Authorization": "Basic YTpi"}),
        ("/api/docs/", {"Authorization": "Bearer x"}),  # the gateway's own page
    ],
)
def test_every_other_request_is_djangos_with_its_signals(path, headers, signals):
    result = call(path, headers)[2]
    assert signals == ["started"]
    result.close()
    assert signals == ["started", "finished"]


def test_the_revocation_reload_checks_connections_as_a_request_would(db, monkeypatch):
    checks: list[str] = []
    monkeypatch.setattr(
        revocation_memo, "close_old_connections", lambda: checks.append("check")
    )
    memo = revocation_memo.RevocationMemo()
    memo.is_revoked(sub="1", iat=0.0)  # first check: the list is loaded
    assert checks == ["check", "check"]  # before and after its two queries
    memo.is_revoked(sub="1", iat=0.0)  # no change: no query, no check
    assert checks == ["check", "check"]
