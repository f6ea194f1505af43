"""Metrics and traces of the real stack: three gunicorn projects, two workers each.

The stack exports its spans to a local OTLP/HTTP receiver (``devstack.otlp``);
one order created through the gateway with a caller-chosen ``traceparent`` must
come back as one trace across the three projects, each hop the child of the one
before. ``/metrics`` adds up both workers of each project, answers loopback
callers only (or bearers of ``METRICS_TOKEN``) and is out of reach of the
gateway's ``/api/`` routes.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import time
from pathlib import Path

import pytest
import requests

from bench.observability import ExtraGateways
from devstack.otlp import Receiver
from devstack.stack import PROJECTS, ROOT, Stack, answers_healthz, free_port, gunicorn
from tests.e2e.conftest import BACKENDS
from tests.e2e.test_proxy import exchange, request_line, statuses

TIMEOUT = 15
SERVICES = {"gateway", "orders", "customers"}
DASHBOARD = ROOT / "deploy" / "grafana" / "access-token-dashboard.json"
# PromQL words that are not metric names.
PROMQL_KEYWORDS = {"by", "without", "on", "ignoring", "offset", "bool", "and", "or"}


@pytest.fixture(scope="module")
def receiver():
    running = Receiver()
    yield running
    running.close()


@pytest.fixture(scope="module", params=BACKENDS)
def observed(request, receiver, tmp_path_factory):
    """A stack exporting its spans to ``receiver``, with 2 workers per project."""
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "E2E_WORKERS": "2",
        "E2E_THREADS": "4",
    }
    stack = Stack(
        tmp_path_factory.mktemp(f"observed-{request.param}"),
        request.param,
        extra_env=env,
    )
    try:
        yield stack.setup()
    finally:
        stack.close()


@pytest.fixture(scope="module")
def token(observed: Stack) -> str:
    return observed.login("alice")["access"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def scrape(url: str, **headers: str) -> requests.Response:
    return requests.get(f"{url}/metrics", headers=headers, timeout=TIMEOUT)


def sample(text: str, name: str, **labels: str) -> float:
    """Return the value of the sample ``name{labels}`` in Prometheus ``text``."""
    for line in text.splitlines():
        match = re.fullmatch(r"([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(match.group(3))
    return 0.0


def forged(token: str) -> str:
    """Return ``token`` with one signature character changed."""
    head, payload, signature = token.split(".")
    middle = len(signature) // 2
    swapped = "A" if signature[middle] != "A" else "B"
    return f"{head}.{payload}.{signature[:middle]}{swapped}{signature[middle + 1 :]}"


# -- tracing ---------------------------------------------------------------------
def test_one_order_is_one_trace_across_the_three_projects(observed, receiver, token):
    customer = requests.post(
        f"{observed.url('gateway')}/api/customers/",
        json={"name": "Traced", "credit_limit": "100.00"},
        headers=bearer(token),
        timeout=TIMEOUT,
    )
    assert customer.status_code == 201, customer.text
    trace_id, caller_span = secrets.token_hex(16), secrets.token_hex(8)

    response = requests.post(
        f"{observed.url('gateway')}/api/orders/",
        json={"customer_id": customer.json()["id"], "total": "10.00"},
        headers={**bearer(token), "traceparent": f"00-{trace_id}-{caller_span}-01"},
        timeout=TIMEOUT,
    )

    assert response.status_code == 201, response.text

    def complete(spans) -> bool:
        """Wait for the caller's gateway span: it ends after the services' ones
        (and the gateway's JWKS or feed spans may come before it)."""
        servers = [s for s in spans if s.kind == "server"]
        return any(
            s.service == "gateway" and s.parent_id == caller_span for s in servers
        ) and {"orders", "customers"} <= {s.service for s in servers}

    spans = receiver.wait_for(trace_id, complete)
    by_id = {span.span_id: span for span in spans}
    server = {
        name: [s for s in spans if s.service == name and s.kind == "server"]
        for name in SERVICES
    }
    assert all(server.values()), f"server spans by project: {server}"
    # The gateway continues the caller's trace (its other server spans, if any,
    # answer the services' JWKS or revocation fetches made meanwhile) ...
    (edge,) = [s for s in server["gateway"] if s.parent_id == caller_span]
    # ... orders continues the gateway's (through its proxy's client span) ...
    (orders,) = server["orders"]
    proxy_hop = by_id[orders.parent_id]
    assert (proxy_hop.service, proxy_hop.kind) == ("gateway", "client")
    assert proxy_hop.parent_id == edge.span_id
    # ... and customers the orders service's (its call through shared_auth's session).
    for span in server["customers"]:
        client = by_id[span.parent_id]
        assert (client.service, client.kind) == ("orders", "client")
    assert {s.service for s in spans} == SERVICES


def test_the_trace_id_is_logged_next_to_the_request_id(observed, token):
    trace_id = secrets.token_hex(16)
    requests.get(
        f"{observed.url('gateway')}/api/orders/",
        headers={
            **bearer(token),
            "traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01",
            "X-Request-ID": "traced-request-1",
        },
        timeout=TIMEOUT,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        log = observed.log_path("gateway").read_text()
        if "traced-request-1" in log:
            break
        time.sleep(0.1)
    assert f"[traced-request-1] [trace={trace_id}]" in log


# -- metrics ---------------------------------------------------------------------
def test_metrics_of_each_project_add_up_both_workers(observed, token):
    bad = forged(token)
    before = {name: scrape(observed.url(name)).text for name in ("orders", "customers")}
    gateway_before = scrape(observed.url("gateway")).text
    rounds = 12
    for _ in range(rounds):  # a new connection each: both workers get some
        for name, path in (
            ("orders", "/api/orders/"),
            ("customers", "/api/customers/"),
        ):
            assert (
                requests.get(
                    observed.url(name) + path, headers=bearer(bad), timeout=TIMEOUT
                ).status_code
                == 401
            )
        assert (
            requests.get(
                f"{observed.url('gateway')}/api/orders/",
                headers=bearer(token),
                timeout=TIMEOUT,
            ).status_code
            == 200
        )

    for name in ("orders", "customers"):
        directory = Path(observed.env["VAR_DIR"]) / "metrics" / PROJECTS[name]
        pids = {re.sub(r"\D", "", p.name) for p in directory.glob("counter_*.db")}
        assert len(pids) >= 2, f"{name}: one worker only: {pids}"
        for _ in range(3):  # whichever worker answers the scrape
            text = scrape(observed.url(name)).text
            reason = {"reason": "invalid_signature"}
            added = sample(text, "access_token_rejections_total", **reason) - sample(
                before[name], "access_token_rejections_total", **reason
            )
            assert added == rounds
            assert sample(text, "shared_auth_jwks_keys_fetched_timestamp_seconds") > 0
    for _ in range(3):
        text = scrape(observed.url("gateway")).text
        labels = {"upstream": "orders", "status": "200"}
        assert (
            sample(text, "gateway_requests_total", **labels)
            - sample(gateway_before, "gateway_requests_total", **labels)
            == rounds
        )
        assert (
            sample(text, "gateway_upstream_duration_seconds_count", upstream="orders")
            >= rounds
        )
        assert (
            sample(text, "gateway_own_duration_seconds_count", upstream="orders")
            >= rounds
        )
        assert sample(text, "gateway_tokens_issued_total", grant_type="password") >= 1


def test_metrics_are_never_reachable_through_the_api_routes(observed, token):
    def scraped() -> int:
        return sum(
            observed.log_path(name).read_text().count("/metrics")
            for name in ("orders", "customers")
        )

    before = scraped()
    targets = [
        "/api/metrics",
        "/api/orders/../metrics",
        "/api/orders/../../metrics",
        "/api/orders/%2e%2e/%2e%2e/metrics",
        "/api/customers/..%2f..%2fmetrics",
        "/api/orders/.%2e/.%2e/metrics",
        "/api/orders/..;/..;/metrics",
        "/api/customers/%2fmetrics",
        "//127.0.0.1/metrics",
    ]
    for target in targets:
        received = exchange(
            observed.url("gateway"),
            request_line("GET", target, token, "Connection: close"),
        )
        assert statuses(received) and statuses(received)[0] in (400, 404), target
        assert b"# HELP" not in received and b"# TYPE" not in received, target
    time.sleep(0.5)  # the services' access log lines
    assert scraped() == before


# -- protection --------------------------------------------------------------------
def _outward_address() -> str:
    """Return an IPv4 address of this machine that is not loopback."""
    output = subprocess.run(
        ["hostname", "-I"], capture_output=True, text=True, check=True
    ).stdout
    for address in output.split():
        if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", address) and not address.startswith(
            "127."
        ):
            return address
    raise AssertionError("this test needs a non-loopback IPv4 address")


def _orders_on(stack: Stack, address: str, **env: str) -> tuple[str, subprocess.Popen]:
    """Start one more orders process bound to ``address``; return its URL."""
    port = free_port()
    process = gunicorn(
        "orders_service",
        f"{address}:{port}",
        env={
            **stack.env,
            "DJANGO_ALLOWED_HOSTS": f"{address},127.0.0.1",
            "PROMETHEUS_MULTIPROC_DIR": str(stack.workdir / f"metrics-{port}"),
            **env,
        },
        log_path=stack.workdir / f"orders-{port}.log",
        threads=None,
    )
    url = f"http://{address}:{port}"
    if answers_healthz(url, process):
        return url, process
    process.kill()
    raise AssertionError(f"orders on {address} did not start")


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(timeout=15)


def test_metrics_refuse_remote_callers_without_a_token(observed):
    url, process = _orders_on(observed, _outward_address())
    try:
        assert scrape(url).status_code == 403
        spoofed = scrape(url, **{"X-Forwarded-For": "127.0.0.1", "X-Real-IP": "::1"})
        assert spoofed.status_code == 403
        assert "# HELP" not in spoofed.text
    finally:
        _stop(process)


def test_metrics_want_the_token_when_one_is_set(observed):
    secret = secrets.token_urlsafe(24)
    url, process = _orders_on(observed, _outward_address(), METRICS_TOKEN=secret)
    try:
        assert scrape(url).status_code == 401
        assert scrape(url, Authorization=f"Bearer {secret}x").status_code == 401
        answer = scrape(url, Authorization=f"Bearer {secret}")
        assert answer.status_code == 200
        assert "access_token_rejections_total" in answer.text
    finally:
        _stop(process)


# -- the dashboard -------------------------------------------------------------------
def dashboard_metrics() -> set[str]:
    """Return every metric name the Grafana dashboard's queries use."""
    names = set()
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        for target in panel["targets"]:
            expr = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", target["expr"])
            expr = re.sub(r"\b(by|without)\s*\([^)]*\)", "", expr)
            expr = re.sub(r"\$\w+", "", expr)
            for match in re.finditer(r"[a-zA-Z_:][\w:]*(?!\w)(\s*\()?", expr):
                name = match.group(0).rstrip("( ")
                if match.group(1) is None and name not in PROMQL_KEYWORDS:
                    names.add(name)
    return names


def test_every_metric_the_dashboard_queries_is_served(observed, token):
    requests.get(
        f"{observed.url('gateway')}/api/orders/", headers=bearer(token), timeout=10
    )
    served = set()
    for name in PROJECTS:
        for line in scrape(observed.url(name)).text.splitlines():
            if line and not line.startswith("#"):
                served.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    wanted = dashboard_metrics()
    assert {
        "gateway_requests_total",
        "gateway_own_duration_seconds_bucket",
        "access_token_rejections_total",
        "shared_auth_revocation_list_fetched_timestamp_seconds",
    } <= wanted
    assert wanted - served == set()


# -- the bench's extra gateways (make bench; the bench itself never runs here) ---------
def test_the_bench_gateways_serve_with_metrics_off_and_with_tracing(observed, token):
    extra = ExtraGateways(observed, ["gateway", "gateway_nometrics", "gateway_traced"])
    try:
        extra.start()
        assert set(extra.urls) == {"gateway_nometrics", "gateway_traced"}
        for url in extra.urls.values():
            answer = requests.get(
                f"{url}/api/orders/", headers=bearer(token), timeout=10
            )
            assert answer.status_code == 200, answer.text
        assert scrape(extra.urls["gateway_nometrics"]).status_code == 404
        assert scrape(extra.urls["gateway_traced"]).status_code == 200
        deadline = time.monotonic() + 10
        while extra.spans_received() == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert extra.spans_received() > 0
        assert extra.receiver.spans == []  # counted, not kept
    finally:
        extra.stop()
