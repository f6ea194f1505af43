"""Liveness and readiness of the gateway."""

import threading

import pytest
import requests

import common.draining


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_request_id_is_kept_when_sane(client):
    response = client.get("/healthz", headers={"X-Request-ID": "abc-123.X_y"})
    assert response["X-Request-ID"] == "abc-123.X_y"


@pytest.mark.parametrize("bad", ["a" * 129, "has space", "semi;colon", "\u00e9"])
def test_request_id_is_replaced_when_not_sane(client, bad):
    response = client.get("/healthz", headers={"X-Request-ID": bad})
    assert response["X-Request-ID"] != bad
    assert len(response["X-Request-ID"]) == 32


@pytest.mark.django_db
def test_readyz_names_unreachable_upstreams(client, monkeypatch):
    def refuse(*args, **kwargs):
        raise requests.ConnectionError("refused")

    monkeypatch.setattr("gateway_project.health.requests.get", refuse)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["down"] == ["customers", "orders"]


def test_unknown_path_is_json_404(client):
    response = client.get("/no/such/path")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found"}


@pytest.mark.django_db
def test_readyz_is_503_once_draining_before_any_upstream_is_asked(client, monkeypatch):
    monkeypatch.setattr(common.draining, "_draining", threading.Event())
    common.draining.draining_start()
    monkeypatch.setattr("gateway_project.health.requests.get", None)  # never called
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["code"] == "draining"


@pytest.mark.parametrize("path", ["/healthz", "/metrics"])
def test_probes_and_scrapes_are_not_redirected_to_https(client, settings, path):
    """With the redirect on (DEBUG off, docs/configuration.md "HTTPS"), kubelet
    and Prometheus still get their answer over plain http (/readyz: its
    exemption is tested in tests/deploy/test_https.py)."""
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/api/orders/").status_code == 301
    assert client.get(path).status_code not in (301, 302)
