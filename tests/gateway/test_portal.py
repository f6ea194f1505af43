"""The portal's document: fetching a service's, caching it, merging them.

A real HTTP server on a free port plays the service; the clock is swapped
through ``schema._now``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.cache import cache

from gateway_project.portal import schema
from gateway_project.proxy.upstreams import proxy_config


class Service(BaseHTTPRequestHandler):
    """Answers ``/api/schema/`` with whatever the test put in ``replies``."""

    replies: list[tuple[int, bytes, dict[str, str]]] = []
    seen: list[dict[str, str]] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        Service.seen.append({"path": self.path, **dict(self.headers)})
        status, body, headers = Service.replies[0]
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Service)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def openapi(*paths: str, **schemas: dict) -> dict:
    return {
        "openapi": "3.0.3",
        "info": {"title": "Billing service", "version": "1"},
        "paths": {
            path: {"get": {"operationId": path, "security": [{"bearerAuth": []}]}}
            for path in paths
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
    }


@pytest.fixture
def billing(server: str, settings) -> Iterator[schema.Upstream]:
    settings.GATEWAY_PROXY = {"ROUTES": {"/api/billing/": server}}
    Service.replies = [(200, json.dumps(openapi("/api/billing/")).encode(), {})]
    Service.seen = []
    cache.clear()
    yield proxy_config().upstreams[0]
    cache.clear()


def reply(status: int, body: bytes | dict, **headers: str) -> None:
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    Service.replies = [(status, data, headers)]


def test_a_service_document_is_fetched_from_its_schema_url(billing):
    document = schema.fetch(billing)
    assert list(document["paths"]) == ["/api/billing/"]
    assert Service.seen[-1]["path"] == "/api/schema/?format=json"
    assert Service.seen[-1]["X-Request-ID"]


@pytest.mark.parametrize(
    ("status", "body", "headers"),
    [
        (500, b'{"detail": "boom"}', {}),
        (302, b"", {"Location": "http://example.com/api/schema/"}),
        (200, b"<html>not json</html>", {}),
        (200, b"[1, 2, 3]", {}),
        (200, b'{"swagger": "2.0", "paths": {}}', {}),
        (200, b'{"openapi": "3.0.3", "paths": []}', {}),
        (200, b"[" * 100_000 + b"]" * 100_000, {}),
        (
            200,
            b'{"openapi": "3", "paths": {}, "x": ' + b"[" * 500 + b"]" * 500 + b"}",
            {},
        ),
    ],
)
def test_an_unusable_answer_is_a_failed_fetch(billing, status, body, headers):
    reply(status, body, **headers)
    with pytest.raises(schema.FetchFailed):
        schema.fetch(billing)


def test_a_document_over_the_size_limit_is_refused(billing, settings):
    settings.GATEWAY_PORTAL = {"MAX_SCHEMA_SIZE": 1000}
    reply(200, openapi(*(f"/api/billing/{n}/" for n in range(100))))
    with pytest.raises(schema.FetchFailed, match="larger than 1000 bytes"):
        schema.fetch(billing)


def test_an_unreachable_service_is_a_failed_fetch(settings):
    settings.GATEWAY_PROXY = {"ROUTES": {"/api/billing/": "http://127.0.0.1:9"}}
    with pytest.raises(schema.FetchFailed):
        schema.fetch(proxy_config().upstreams[0])


def test_cached_for_the_ttl_then_refetched_and_stale_on_failure(
    billing, settings, monkeypatch
):
    settings.GATEWAY_PORTAL = {"SCHEMA_TTL": 60, "RETRY_INTERVAL": 10}
    now = [1000.0]
    monkeypatch.setattr(schema, "_now", lambda: now[0])

    assert schema.service_document(billing)[1] == "fresh"
    reply(200, openapi("/api/billing/", "/api/billing/{id}/"))
    now[0] += 59
    document, state = schema.service_document(billing)
    assert (len(document["paths"]), state, len(Service.seen)) == (1, "fresh", 1)

    now[0] += 2  # past the TTL: refetched
    document, state = schema.service_document(billing)
    assert (len(document["paths"]), state, len(Service.seen)) == (2, "fresh", 2)

    reply(503, b"down")
    now[0] += 61
    document, state = schema.service_document(billing)
    assert (len(document["paths"]), state) == (2, "stale")
    now[0] += 5  # within the retry interval: no new fetch
    assert schema.service_document(billing)[1] == "stale"
    assert len(Service.seen) == 3
    now[0] += 6
    reply(200, openapi("/api/billing/"))
    assert schema.service_document(billing) == (schema.fetch(billing), "fresh")


def test_a_service_never_fetched_is_unavailable_and_not_hammered(billing, monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(schema, "_now", lambda: now[0])
    reply(500, b"")
    assert schema.service_document(billing) == (None, "unavailable")
    assert schema.service_document(billing) == (None, "unavailable")
    assert len(Service.seen) == 1


def test_merge_keeps_only_what_the_gateway_routes_to_that_service(settings):
    settings.GATEWAY_PROXY = {
        "ROUTES": {
            "/api/billing/": "http://billing:8000/v2",
            "/api/billing/admin/": "http://other:8000",
        }
    }
    billing = next(u for u in proxy_config().upstreams if u.prefix == "/api/billing/")
    document = openapi(
        "/v2/api/billing/",  # the gateway's /api/billing/
        "/v2/api/billing/admin/",  # routed to the other upstream: dropped
        "/api/billing/",  # outside the base path: dropped
        "/v2/api/schema/",  # not under the route's prefix: dropped
    )
    merged, _ = schema.merge({"paths": {}}, [(billing, document)])
    assert list(merged["paths"]) == ["/api/billing/"]
    security = merged["paths"]["/api/billing/"]["get"]["security"]
    assert security == [{"bearerAuth": []}, {"oauth2": []}]
    assert set(merged["components"]["securitySchemes"]) == {"bearerAuth", "oauth2"}


def test_merge_shares_equal_components_and_renames_clashing_ones(settings):
    settings.GATEWAY_PROXY = {
        "ROUTES": {"/api/orders/": "http://orders", "/api/billing/": "http://billing"}
    }
    upstreams = {u.prefix: u for u in proxy_config().upstreams}
    money = {"type": "string", "format": "decimal"}
    ref = {"$ref": "#/components/schemas/Item"}
    orders = openapi("/api/orders/", Money=money, Item={"type": "object"})
    orders["paths"]["/api/orders/"]["get"]["responses"] = {"200": {"content": ref}}
    billing = openapi("/api/billing/", Money=money, Item={"type": "array"})
    billing["paths"]["/api/billing/"]["get"]["responses"] = {"200": {"content": ref}}

    merged, renamed = schema.merge(
        {"paths": {}},
        [(upstreams["/api/orders/"], orders), (upstreams["/api/billing/"], billing)],
    )

    schemas = merged["components"]["schemas"]
    assert schemas == {
        "Money": money,
        "Item": {"type": "object"},
        "BillingItem": {"type": "array"},
    }
    assert renamed == {"schemas/Item": "BillingItem"}
    paths = merged["paths"]
    assert paths["/api/orders/"]["get"]["responses"]["200"]["content"] == ref
    assert paths["/api/billing/"]["get"]["responses"]["200"]["content"] == {
        "$ref": "#/components/schemas/BillingItem"
    }


def test_the_portal_pages_are_served_by_the_gateway(client, billing):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    document = response.json()
    assert "/api/billing/" in document["paths"]
    assert "/auth/token/" in document["paths"]
    assert "/auth/revocations/" not in document["paths"]
    assert "`/api/billing/`: Billing service (fresh)" in document["info"]["description"]

    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert (
        "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    )
    assert "<script>" not in html  # the init script is its own URL (strict CSP)
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert '"/api/schema/"' in script.content.decode()


def test_with_a_bearer_the_portal_is_not_proxied(client, billing):
    response = client.get("/api/schema/", HTTP_AUTHORIZATION="Bearer whatever")
    assert response.status_code == 200
    assert client.post("/api/schema/").status_code == 405


def test_the_oauth_scheme_lists_the_gateways_scopes(settings):
    settings.OAUTH_SCOPES = ["orders:read", "reservations:write"]
    merged, _ = schema.merge({"paths": {}}, [])
    flow = merged["components"]["securitySchemes"]["oauth2"]["flows"]
    assert set(flow["clientCredentials"]["scopes"]) == {
        "orders:read",
        "reservations:write",
    }
    assert flow["clientCredentials"]["tokenUrl"].endswith("/auth/oauth/token/")


def test_each_bearer_requirement_gets_its_oauth2_twin_with_the_same_scopes(settings):
    settings.GATEWAY_PROXY = {"ROUTES": {"/api/billing/": "http://billing"}}
    document = openapi("/api/billing/")
    document["openapi"] = "3.1.0"
    document["paths"]["/api/billing/"]["get"]["security"] = [
        {"bearerAuth": ["billing:read"]},
        {},
    ]
    document["components"]["securitySchemes"]["cookieAuth"] = {"type": "apiKey"}
    merged, _ = schema.merge(
        {"openapi": "3.0.3", "paths": {}}, [(proxy_config().upstreams[0], document)]
    )
    assert merged["openapi"] == "3.1.0"
    assert merged["paths"]["/api/billing/"]["get"]["security"] == [
        {"bearerAuth": ["billing:read"]},
        {"oauth2": ["billing:read"]},
        {},
    ]
    schemes = merged["components"]["securitySchemes"]
    assert schemes["cookieAuth"] == {"type": "apiKey"}  # a service's own, kept
    assert schemes["bearerAuth"]["bearerFormat"] == "JWT"  # the gateway's wins
