"""Security headers of the real servers: no software banner, a CSP on HTML.

The services (gunicorn) send no ``Server`` header; the gateway (granian, which
always sends one) sends ``Server: gateway``, naming no software.
"""

import pytest
import requests

from devstack.stack import Stack

TIMEOUT = 10
PROJECTS = ["gateway", "orders", "customers"]
SERVER_HEADER = {"gateway": "gateway"}  # the others: none


@pytest.mark.parametrize("project", PROJECTS)
@pytest.mark.parametrize("path", ["/healthz", "/admin/login/", "/no/such/page"])
def test_no_server_banner(stack: Stack, project: str, path: str):
    response = requests.get(f"{stack.url(project)}{path}", timeout=TIMEOUT)
    assert response.headers.get("Server") == SERVER_HEADER.get(project)


def test_no_server_banner_through_the_proxy(stack: Stack):
    auth = {"Authorization": f"Bearer {stack.login('alice')['access']}"}
    gateway = stack.url("gateway")
    response = requests.get(f"{gateway}/api/orders/", headers=auth, timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.headers.get("Server") == "gateway"  # not the service's, none


@pytest.mark.parametrize("project", PROJECTS)
def test_html_pages_carry_the_policy(stack: Stack, project: str):
    response = requests.get(f"{stack.url(project)}/admin/login/", timeout=TIMEOUT)
    assert response.headers["Content-Type"].startswith("text/html")
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self';" in policy
    assert "frame-ancestors 'none'" in policy


@pytest.mark.parametrize("service", ["orders", "customers"])
def test_swagger_ui_assets_are_served_locally(stack: Stack, service: str):
    base = stack.url(service)
    page = requests.get(f"{base}/api/docs/", timeout=TIMEOUT)
    assert "Content-Security-Policy" in page.headers
    assert "cdn" not in page.text.lower()
    assert "<script>" not in page.text  # the start-up script is a file
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        url = f"{base}/static/drf_spectacular_sidecar/swagger-ui-dist/{asset}"
        assert requests.get(url, timeout=TIMEOUT).status_code == 200
    script = requests.get(f"{base}/api/docs/?script=", timeout=TIMEOUT)
    assert script.headers["Content-Type"] == "application/javascript"


def test_json_answers_carry_no_policy(stack: Stack):
    response = requests.get(f"{stack.url('orders')}/healthz", timeout=TIMEOUT)
    assert "Content-Security-Policy" not in response.headers
