"""A database that cannot be reached is a 503 (retry later), not a 500."""

import pytest
from django.db import OperationalError

from orders_service.orders.views import OrderViewSet


@pytest.fixture
def failing_queryset(monkeypatch):
    def set_error(exc: Exception) -> None:
        def raise_it(self):
            raise exc

        monkeypatch.setattr(OrderViewSet, "get_queryset", raise_it)

    return set_error


def test_an_unreachable_database_is_503_with_retry_after(as_alice, failing_queryset):
    failing_queryset(OperationalError("the database system is shutting down"))
    as_alice.raise_request_exception = False
    response = as_alice.get("/api/orders/")
    assert response.status_code == 503
    assert response.json()["code"] == "database_unavailable"
    assert int(response["Retry-After"]) > 0


def test_a_lost_database_under_another_error_is_503_too(as_alice, failing_queryset):
    try:
        raise OperationalError("server closed the connection unexpectedly")
    except OperationalError as cause:
        wrapped = RuntimeError("while listing")
        wrapped.__cause__ = cause
    failing_queryset(wrapped)
    as_alice.raise_request_exception = False
    assert as_alice.get("/api/orders/").status_code == 503


def test_any_other_error_is_still_a_bare_500(as_alice, failing_queryset):
    failing_queryset(ValueError("a bug"))
    as_alice.raise_request_exception = False
    response = as_alice.get("/api/orders/")
    assert response.status_code == 500
    assert response.json() == {
        "detail": "Internal server error.",
        "code": "server_error",
    }
