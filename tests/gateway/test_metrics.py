"""The gateway's metrics, each on the event it counts, and ``GET /metrics`` itself."""

import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.test import Client
from prometheus_client import REGISTRY

from common import gunicorn as common_gunicorn
from gateway_project.identity.services import subject_tokens_revoke
from gateway_project.identity.throttling import LoginFailureThrottle
from gateway_project.identity.tokens import access_token_for
from gateway_project.proxy.upstreams import proxy_config
from tests.gateway.conftest import PASSWORD
from tests.support.proxy_fakes import RecordingUpstream, SilentUpstream, dead_url
from tests.support.tokens import gateway_claims, gateway_signed, signed

pytestmark = pytest.mark.django_db


@pytest.fixture
def upstream():
    server = RecordingUpstream()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def routes(settings, upstream):
    """/api/orders/ -> a recording upstream, /api/dead/ and /api/silent/ fail."""
    silent = SilentUpstream()
    settings.GATEWAY_PROXY = {
        "ROUTES": {
            "/api/orders/": upstream.url,
            "/api/dead/": dead_url(),
            "/api/silent/": silent.url,
        },
        "CONNECT_TIMEOUT": 0.5,
        "READ_TIMEOUT": 0.5,
    }
    yield
    proxy_config.cache_clear()
    silent.close()


@pytest.fixture
def access(alice) -> str:
    return access_token_for(alice)


@pytest.fixture
def bearer(access) -> dict[str, str]:
    return {"Authorization": f"Bearer {access}"}


def body(response) -> bytes:
    if response.streaming:
        return b"".join(response.streaming_content)
    return response.content


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Delta:
    """How much samples grew since this object was made."""

    def __init__(self, *samples: tuple[str, dict[str, str]]) -> None:
        self.before = {self.key(n, lb): value(n, **lb) for n, lb in samples}

    @staticmethod
    def key(name: str, labels: dict[str, str]) -> tuple:
        return (name, tuple(sorted(labels.items())))

    def __call__(self, name: str, **labels: str) -> float:
        return value(name, **labels) - self.before.get(self.key(name, labels), 0.0)


REQUESTS = "gateway_requests_total"
UPSTREAM = "gateway_upstream_duration_seconds_count"
OWN = "gateway_own_duration_seconds_count"
ERRORS = "gateway_upstream_errors_total"
REJECTIONS = "access_token_rejections_total"


def delta(*samples: tuple[str, dict[str, str]]) -> Delta:
    return Delta(*samples)


# -- the proxy -------------------------------------------------------------------------
def test_a_proxied_request_counts_once_with_both_times(client, upstream, bearer):
    seen = delta(
        (REQUESTS, {"upstream": "orders", "status": "200"}),
        (UPSTREAM, {"upstream": "orders"}),
        (OWN, {"upstream": "orders"}),
        ("gateway_upstream_duration_seconds_sum", {"upstream": "orders"}),
    )
    started = time.perf_counter()
    response = client.get("/api/orders/1/", headers=bearer)
    body(response)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200
    assert seen(REQUESTS, upstream="orders", status="200") == 1
    assert seen(UPSTREAM, upstream="orders") == 1
    assert seen(OWN, upstream="orders") == 1
    waited = seen("gateway_upstream_duration_seconds_sum", upstream="orders")
    assert 0 < waited < elapsed


@pytest.mark.parametrize(
    ("path", "status", "kind"),
    [
        ("/api/dead/x/", 502, "upstream_refused"),
        ("/api/silent/x/", 504, "upstream_timeout"),
    ],
)
def test_upstream_failures_count_by_kind(client, bearer, path, status, kind):
    label = path.split("/")[2]
    seen = delta(
        (ERRORS, {"upstream": label, "kind": kind}),
        (REQUESTS, {"upstream": label, "status": str(status)}),
        (UPSTREAM, {"upstream": label}),
    )
    assert client.get(path, headers=bearer).status_code == status
    assert seen(ERRORS, upstream=label, kind=kind) == 1
    assert seen(REQUESTS, upstream=label, status=str(status)) == 1
    assert seen(UPSTREAM, upstream=label) == 1  # the wait until it failed


def test_answers_without_an_upstream_call_count_no_upstream_time(client, bearer):
    seen = delta(
        (REQUESTS, {"upstream": "none", "status": "404"}),
        (REQUESTS, {"upstream": "orders", "status": "401"}),
        (UPSTREAM, {"upstream": "orders"}),
        (OWN, {"upstream": "orders"}),
    )
    assert client.get("/api/nowhere/", headers=bearer).status_code == 404
    assert client.get("/api/orders/").status_code == 401
    assert seen(REQUESTS, upstream="none", status="404") == 1
    assert seen(REQUESTS, upstream="orders", status="401") == 1
    assert seen(UPSTREAM, upstream="orders") == 0
    assert seen(OWN, upstream="orders") == 1


def test_nothing_is_counted_with_metrics_off(client, bearer, settings):
    settings.METRICS_ENABLED = False
    seen = delta((REQUESTS, {"upstream": "orders", "status": "200"}))
    assert client.get("/api/orders/1/", headers=bearer).status_code == 200
    assert seen(REQUESTS, upstream="orders", status="200") == 0


# -- edge rejections -------------------------------------------------------------------
def expired_access() -> str:
    past = int(time.time()) - 3600
    return gateway_signed(gateway_claims(iat=past - 600, exp=past))


def unknown_kid_access() -> str:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return signed(gateway_claims(), stranger, kid="unknown")


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (expired_access, "expired"),
        (unknown_kid_access, "unknown_key"),
        (
            lambda: gateway_signed(gateway_claims(aud=["billing"])),
            "invalid_claims",
        ),
        (lambda: "not.a.token", "malformed"),
    ],
)
def test_edge_rejections_count_by_reason(client, make, reason):
    seen = delta((REJECTIONS, {"reason": reason}))
    response = client.get("/api/orders/", headers={"Authorization": f"Bearer {make()}"})
    assert response.status_code == 401
    assert seen(REJECTIONS, reason=reason) == 1


def test_a_revoked_token_at_the_edge_counts_as_revoked(client, alice, access):
    subject_tokens_revoke(sub=str(alice.pk))
    seen = delta((REJECTIONS, {"reason": "revoked"}))
    auth = {"Authorization": f"Bearer {access}"}
    assert client.get("/api/orders/", headers=auth).status_code == 401
    assert seen(REJECTIONS, reason="revoked") == 1


# -- tokens issued, failed and throttled logins ----------------------------------------
ISSUED = "gateway_tokens_issued_total"
FAILED = "gateway_login_failures_total"
THROTTLED = "gateway_login_throttled_total"


def test_logins_and_refreshes_count_tokens_by_grant_type(api, alice, login):
    seen = delta(
        (ISSUED, {"grant_type": "password"}), (ISSUED, {"grant_type": "refresh_token"})
    )
    pair = login("alice").json()
    assert seen(ISSUED, grant_type="password") == 1
    refresh = api.post("/auth/token/refresh/", {"refresh": pair["refresh"]})
    assert refresh.status_code == 200
    assert seen(ISSUED, grant_type="refresh_token") == 1
    reused = api.post("/auth/token/refresh/", {"refresh": pair["refresh"]})
    assert reused.status_code == 401  # blacklisted after rotation
    assert seen(ISSUED, grant_type="refresh_token") == 1


def test_a_session_caller_gets_a_token_minted_and_counted(upstream, alice):
    browser = Client()
    browser.force_login(alice)
    seen = delta((ISSUED, {"grant_type": "session"}))
    assert browser.get("/api/orders/1/").status_code == 200
    assert seen(ISSUED, grant_type="session") == 1


def test_failed_then_throttled_logins_are_counted(alice, login, monkeypatch):
    monkeypatch.setattr(LoginFailureThrottle, "timer", lambda self: 1_000_000.0)
    seen = delta(
        (FAILED, {"endpoint": "token"}),
        (THROTTLED, {"endpoint": "token"}),
        (ISSUED, {"grant_type": "password"}),
    )
    for _ in range(5):
        assert login("alice", "wrong").status_code == 401
    assert login("alice").status_code == 429
    assert seen(FAILED, endpoint="token") == 5
    assert seen(THROTTLED, endpoint="token") == 1
    assert seen(ISSUED, grant_type="password") == 0


def test_failed_admin_logins_are_counted_apart(client, staff):
    seen = delta((FAILED, {"endpoint": "admin"}), (FAILED, {"endpoint": "token"}))
    form = {"username": "sam", "password": "wrong", "next": "/admin/"}
    assert client.post("/admin/login/", form).status_code == 200
    assert seen(FAILED, endpoint="admin") == 1
    assert seen(FAILED, endpoint="token") == 0
    form["password"] = PASSWORD
    assert client.post("/admin/login/", form).status_code == 302
    assert seen(FAILED, endpoint="admin") == 1


def test_grant_type_labels_stay_bounded():
    from gateway_project.identity import metrics

    seen = delta(
        (ISSUED, {"grant_type": "token_exchange"}), (ISSUED, {"grant_type": "other"})
    )
    metrics.tokens_issued("urn:ietf:params:oauth:grant-type:token-exchange")
    metrics.tokens_issued("made-up")
    assert seen(ISSUED, grant_type="token_exchange") == 1
    assert seen(ISSUED, grant_type="other") == 1
    assert value(ISSUED, grant_type="made-up") == 0


# -- GET /metrics ----------------------------------------------------------------------
def test_loopback_callers_get_the_prometheus_text(client):
    for address in ("127.0.0.1", "::1", "::ffff:127.0.0.1", "127.0.0.2"):
        response = client.get("/metrics", REMOTE_ADDR=address)
        assert response.status_code == 200, address
        assert response["Content-Type"].startswith("text/plain; version=")
        text = response.content.decode()
        assert "# TYPE gateway_requests_total counter" in text
        assert "# TYPE access_token_rejections_total counter" in text
        assert 'gateway_tokens_issued_total{grant_type="password"}' in text


@pytest.mark.parametrize("address", ["10.0.0.5", "192.0.2.1", "::ffff:10.0.0.5", ""])
def test_remote_callers_are_refused_whatever_they_claim(client, address):
    spoof = {
        "HTTP_X_FORWARDED_FOR": "127.0.0.1",
        "HTTP_X_REAL_IP": "127.0.0.1",
        "HTTP_FORWARDED": "for=127.0.0.1",
    }
    response = client.get("/metrics", REMOTE_ADDR=address, **spoof)
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_with_a_token_set_it_is_needed_even_from_loopback(client, settings):
    settings.METRICS_TOKEN = "s3cret-metrics-token"
    assert client.get("/metrics").status_code == 401
    for wrong in ("Bearer s3cret", "Bearer s3cret-metrics-tokenX", "Basic x", ""):
        response = client.get(
            "/metrics", REMOTE_ADDR="10.0.0.5", HTTP_AUTHORIZATION=wrong
        )
        assert response.status_code == 401, wrong
        assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    answer = client.get(
        "/metrics",
        REMOTE_ADDR="10.0.0.5",
        HTTP_AUTHORIZATION="Bearer s3cret-metrics-token",
    )
    assert answer.status_code == 200
    assert b"gateway_requests_total" in answer.content


def test_a_scraper_may_address_the_pod_by_ip(client):
    response = client.get("/metrics", HTTP_HOST="10.1.2.3:8000")
    assert response.status_code == 200
    assert client.get("/healthz", HTTP_HOST="10.1.2.3:8000").status_code == 400


def test_only_get_and_head(client):
    assert client.head("/metrics").status_code == 200
    response = client.post("/metrics")
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"


def test_switched_off_it_is_a_404(client, settings):
    settings.METRICS_ENABLED = False
    response = client.get("/metrics")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found"}


def test_the_proxy_never_answers_metrics_paths(client, upstream, bearer):
    for path in (
        "/api/metrics",
        "/api/orders/../metrics",
        "/api/orders/%2e%2e/metrics",
    ):
        response = client.get(path, headers=bearer)
        assert response.status_code in (400, 404), path
    assert upstream.requests == []


# -- gunicorn hooks and tracing setup --------------------------------------------------
def test_gunicorn_start_gives_an_empty_metrics_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    monkeypatch.setenv("VAR_DIR", str(tmp_path))
    stale = tmp_path / "metrics" / "gateway_project" / "counter_123.db"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")
    server = SimpleNamespace(cfg=SimpleNamespace(wsgi_app="gateway_project.wsgi:app"))
    common_gunicorn.on_starting(server)
    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(stale.parent)
    assert not stale.exists()


def test_metrics_off_leaves_the_workers_no_metrics_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("METRICS_ENABLED", "0")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "absent"))
    server = SimpleNamespace(cfg=SimpleNamespace(wsgi_app="gateway_project.wsgi:app"))
    common_gunicorn.on_starting(server)
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ


def test_a_dead_workers_live_gauges_are_dropped(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    (tmp_path / "gauge_livemax_4242.db").write_bytes(b"x")
    (tmp_path / "counter_4242.db").write_bytes(b"x")
    common_gunicorn.child_exit(None, SimpleNamespace(pid=4242))
    assert sorted(p.name for p in tmp_path.glob("*.db")) == ["counter_4242.db"]


def test_without_an_endpoint_tracing_imports_nothing():
    code = """
import os, sys
os.environ["DJANGO_SETTINGS_MODULE"] = "orders_service.settings"
for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
    os.environ.pop(name, None)
from orders_service.wsgi import application
from django.conf import settings
assert not [m for m in sys.modules if m.startswith("opentelemetry")], "imported"
assert not [m for m in settings.MIDDLEWARE if "opentelemetry" in m]
print("ok")
"""
    env = {**os.environ, "VAR_DIR": os.environ.get("VAR_DIR", str(Path.cwd() / "var"))}
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.stdout.strip() == "ok", result.stderr


# -- the proxy hop's traceparent ----------------------------------------------------
CALLER = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def forwarded(**meta: str) -> dict[str, str]:
    from django.test import RequestFactory

    from gateway_project.proxy.headers import upstream_headers

    request = RequestFactory().get("/api/orders/", **meta)
    request.request_id = "rid"
    return upstream_headers(request, token="t", content_length=None)


def test_without_tracing_the_callers_traceparent_passes_through():
    headers = forwarded(HTTP_TRACEPARENT=CALLER, HTTP_TRACESTATE="a=1")
    assert headers["traceparent"] == CALLER
    assert headers["tracestate"] == "a=1"


def test_with_tracing_the_service_gets_the_gateways_span(monkeypatch):
    from opentelemetry.sdk.trace import TracerProvider

    from common import tracing

    monkeypatch.setattr(tracing, "_configured", True)
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("gateway") as span:
        headers = forwarded(HTTP_TRACEPARENT=CALLER, HTTP_TRACESTATE="evil=1")
    context = span.get_span_context()
    assert headers["traceparent"].startswith(
        f"00-{context.trace_id:032x}-{context.span_id:016x}-"
    )
    assert "tracestate" not in headers
