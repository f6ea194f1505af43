"""Liveness of the service, and errors outside the API."""

import threading

import pytest

import common.draining


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_body_over_the_upload_limit_is_json_413(as_alice, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = '{"name": "%s", "credit_limit": "10.00"}' % ("x" * 2000)
    response = as_alice.post(
        "/api/customers/", data=body, content_type="application/json"
    )
    assert response.status_code == 413
    assert response.json()["detail"] == "Request body too large."


@pytest.fixture
def draining(monkeypatch):
    """This process told to stop (as the gunicorn worker does on SIGTERM)."""
    monkeypatch.setattr(common.draining, "_draining", threading.Event())
    common.draining.draining_start()


@pytest.mark.django_db
def test_readyz_is_200_while_the_database_answers(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


@pytest.mark.django_db
def test_readyz_is_503_once_draining_while_healthz_stays_200(client, draining):
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["code"] == "draining"
    assert client.get("/healthz").status_code == 200


@pytest.mark.django_db
def test_readyz_is_503_when_the_database_is_down(client, monkeypatch):
    monkeypatch.setattr("common.views.database_ok", lambda: False)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["down"] == ["database"]
