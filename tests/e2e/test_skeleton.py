"""The skeleton: three real processes answer their health checks."""

import requests


def test_every_project_is_live(stack):
    for name in ("gateway", "orders", "customers"):
        response = requests.get(f"{stack.url(name)}/healthz", timeout=5)
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}
        assert response.headers["X-Request-ID"]


def test_gateway_is_ready_when_upstreams_answer(stack):
    response = requests.get(f"{stack.url('gateway')}/readyz", timeout=10)
    assert response.status_code == 200, response.text


def test_readyz_names_the_upstream_that_is_down(stack):
    stack.stop("customers")
    try:
        response = requests.get(f"{stack.url('gateway')}/readyz", timeout=10)
    finally:
        stack.start("customers")
    assert response.status_code == 503
    assert response.json()["down"] == ["customers"]


def test_unknown_path_is_json_404(stack):
    response = requests.get(f"{stack.url('orders')}/nope", timeout=5)
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found"}
