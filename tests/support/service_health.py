"""Liveness and readiness tests every service runs under its own settings.

A service's test module star-imports this one; pytest collects the tests (and
the ``draining`` fixture) there, under that suite's ``--ds``.
"""

import threading

import pytest

import common.draining

__all__ = [
    "draining",
    "test_healthz",
    "test_readyz_is_200_while_the_database_answers",
    "test_readyz_is_503_once_draining_while_healthz_stays_200",
    "test_readyz_is_503_when_the_database_is_down",
]


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


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
