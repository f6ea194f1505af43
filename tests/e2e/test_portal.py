"""The developer portal at the gateway: one OpenAPI document, Swagger UI over it.

A stack whose gateway refetches the services' documents on every request
(``GATEWAY_PORTAL_SCHEMA_TTL=0``), so a stopped service shows the stale copy.
The browser part drives Debian's Chromium (see ``test_browser.py``): open the
portal, authorize with a login token, run ``GET /api/orders/``, see 200.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests
from playwright.sync_api import Page

from devstack.stack import Stack
from tests.e2e.test_browser import SCREENSHOTS, page  # noqa: F401

TIMEOUT = 20


@pytest.fixture(scope="module")
def portal_stack(tmp_path_factory) -> Iterator[Stack]:
    stack = Stack(
        tmp_path_factory.mktemp("portal-stack"),
        extra_env={
            "GATEWAY_PORTAL_SCHEMA_TTL": "0",
            "GATEWAY_PORTAL_RETRY_INTERVAL": "0",
        },
    )
    try:
        yield stack.setup()
    finally:
        stack.close()


def _document(stack: Stack) -> dict:
    response = requests.get(f"{stack.url('gateway')}/api/schema/", timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    return response.json()


def test_one_document_merges_the_services_and_the_gateway(portal_stack: Stack):
    document = _document(portal_stack)

    paths = set(document["paths"])
    assert {"/api/orders/", "/api/orders/{id}/", "/api/orders/{id}/cancel/"} <= paths
    assert {"/api/customers/", "/api/customers/{id}/"} <= paths
    assert {"/auth/token/", "/auth/token/refresh/", "/auth/logout/"} <= paths
    # Only what the gateway routes or answers itself: no service's own schema or
    # docs pages, no internal revocation feed, nothing outside /api/ and /auth/.
    assert "/auth/revocations/" not in paths
    assert all(
        path.startswith(("/api/orders/", "/api/customers/", "/auth/")) for path in paths
    )
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": schemes["bearerAuth"]["description"],
    }
    flow = schemes["oauth2"]["flows"]["clientCredentials"]
    assert flow["tokenUrl"] == f"{portal_stack.url('gateway')}/auth/oauth/token/"
    assert {"orders:read", "customers:write"} <= set(flow["scopes"])
    listing = document["paths"]["/api/orders/"]["get"]
    # The scopes the service checks, on the bearer scheme and its OAuth twin.
    assert {"bearerAuth": ["orders:read"]} in listing["security"]
    assert {"oauth2": ["orders:read"]} in listing["security"]
    # Every $ref points at a component the document holds.
    refs = set()

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                refs.add(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
    for ref in refs:
        _, _, section, name = ref.split("/")
        assert name in document["components"][section], ref
    # No server entry: "Try it out" calls the origin the portal came from.
    assert "servers" not in document


def test_a_stopped_service_is_served_from_the_last_good_copy(portal_stack: Stack):
    assert "Customers service (fresh)" in _document(portal_stack)["info"]["description"]
    portal_stack.stop("customers")
    try:
        document = _document(portal_stack)
    finally:
        portal_stack.start("customers")
    assert "/api/customers/{id}/" in document["paths"]
    assert "Customers service (stale)" in document["info"]["description"]
    assert "Customers service (fresh)" in _document(portal_stack)["info"]["description"]


def test_the_portal_is_the_gateways_own_page_even_with_a_bearer(portal_stack: Stack):
    token = portal_stack.login("alice")["access"]
    for path in ("/api/docs/", "/api/schema/"):
        response = requests.get(
            f"{portal_stack.url('gateway')}{path}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=TIMEOUT,
        )
        assert response.status_code == 200, (path, response.text)
    # The rest of /api/ is still the proxy's: unauthenticated calls stop there.
    assert (
        requests.get(
            f"{portal_stack.url('gateway')}/api/orders/", timeout=TIMEOUT
        ).status_code
        == 401
    )
    # Writes to the portal are refused.
    refused = requests.post(
        f"{portal_stack.url('gateway')}/api/schema/", timeout=TIMEOUT
    )
    assert refused.status_code in (403, 405)


def test_authorize_and_try_it_out_in_chromium(portal_stack: Stack, page: Page):  # noqa: F811
    gateway = portal_stack.url("gateway")
    token = portal_stack.login("alice")["access"]
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    page.goto(f"{gateway}/api/docs/")
    page.wait_for_selector(".swagger-ui .information-container")
    operation = page.locator("#operations-orders-orders_list")
    operation.wait_for()

    page.click("button.authorize")
    bearer = page.locator(".auth-container", has_text="bearerAuth")
    bearer.locator("input").fill(token)
    bearer.locator("button.authorize").click()
    page.click("button.btn-done")

    operation.locator(".opblock-summary").click()
    operation.locator("button.try-out__btn").click()
    operation.locator("button.execute").click()
    status = operation.locator(".live-responses-table tr.response .response-col_status")
    status.wait_for()
    assert status.inner_text().strip() == "200"
    request_url = operation.locator(".request-url pre").inner_text().strip()
    assert request_url.startswith(f"{gateway}/api/orders/")
    body = operation.locator(".live-responses-table tr.response .microlight")
    assert '"results"' in body.first.inner_text()

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "portal-orders.png", full_page=True)
    # Every asset and call came from the gateway itself: no CDN.
    assert requested
    origin = urlsplit(gateway).netloc
    assert {urlsplit(url).netloc for url in requested if url.startswith("http")} == {
        origin
    }
    assert any("/static/drf_spectacular_sidecar/" in url for url in requested)
