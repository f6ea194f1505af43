"""The orders API is as strict as its schema, and its schema lists its errors.

Issue 14, items 2 and 4 (see tests/customers/test_strict_input.py).
"""

import pytest
from django.test import Client
from django.test.utils import override_settings

from orders_service.orders.models import Order

pytestmark = pytest.mark.django_db

ORDERS = "/api/orders/"


@pytest.mark.parametrize(
    "value",
    ["5", "1_0", " 5", "\u0665", True, 1.5, 1e300, None, [1], {"a": 1}],
    ids=repr,
)
def test_a_customer_id_in_json_must_be_a_json_integer(as_alice, customers_stub, value):
    response = as_alice.post(
        ORDERS, {"customer_id": value, "total": "5"}, format="json"
    )
    assert response.status_code == 400, response.json()
    assert response.json()["detail"].startswith("customer_id: ")
    assert not Order.objects.exists()
    assert customers_stub.calls == []


def test_a_json_number_with_a_zero_fraction_is_an_integer(as_alice, customers_stub):
    # OpenAPI 3.1 (JSON Schema 2020-12) counts 1.0 as an integer: schemathesis
    # sends it as a valid customer_id.
    response = as_alice.post(ORDERS, {"customer_id": 1.0, "total": "5"}, format="json")
    assert response.status_code == 201, response.json()
    assert Order.objects.get().customer_id == 1


def test_a_customer_id_from_a_form_is_digits(as_alice, customers_stub):
    response = as_alice.post(ORDERS, {"customer_id": "1", "total": "5"})
    assert response.status_code == 201, response.json()
    response = as_alice.post(ORDERS, {"customer_id": "1_0", "total": "5"})
    assert response.status_code == 400


@pytest.mark.parametrize("value", ["", "-5", "1e3", "1_000", " 5 ", "\uff15", 5, "05"])
def test_bad_totals_are_refused(as_alice, customers_stub, value):
    response = as_alice.post(ORDERS, {"customer_id": 1, "total": value}, format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["detail"].startswith("total: ")
    assert customers_stub.calls == []


@pytest.mark.parametrize(
    "query",
    [
        {"customer_id": "1_0"},
        {"customer_id": " 1"},
        {"customer_id": "\u0661"},
        {"customer_id": "1.0"},
        {"page_size": "null"},
        {"page_size": "x"},
        {"page": "1.0"},
    ],
    ids=repr,
)
def test_bad_list_queries_are_400(as_alice, query):
    assert as_alice.get(ORDERS, query).status_code == 400


def test_a_deep_json_body_is_400_parse_error_even_under_debug(as_alice):
    with override_settings(DEBUG=True):
        response = as_alice.post(
            ORDERS, "[" * 5000 + "]" * 5000, content_type="application/json"
        )
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_the_schema_lists_each_operations_errors():
    document = Client().get("/api/schema/", HTTP_ACCEPT="application/json").json()
    paths = document["paths"]
    create = paths["/api/orders/"]["post"]
    assert {
        "400",
        "401",
        "403",
        "404",
        "409",
        "413",
        "415",
        "422",
        "502",
        "503",
    } <= set(create["responses"])
    assert {"400", "401", "403", "404"} <= set(
        paths["/api/orders/"]["get"]["responses"]
    )
    cancel = paths["/api/orders/{id}/cancel/"]["post"]
    assert {"401", "403", "404", "409", "502", "503"} <= set(cancel["responses"])
    [key] = [p for p in create["parameters"] if p["name"] == "Idempotency-Key"]
    assert key["schema"]["pattern"] == "^[\\x21-\\x7e]{1,255}$"
    total = document["components"]["schemas"]["OrderRequest"]["properties"]["total"]
    assert total["type"] == "string"
    assert total["pattern"].startswith("^(?:[1-9]")


# -- found by schemathesis (tests/e2e/test_fuzz.py) ------------------------------
@pytest.mark.parametrize("query", ["state=", "customer_id="])
def test_an_empty_filter_is_400_not_ignored(as_alice, query):
    response = as_alice.get(f"{ORDERS}?{query}")
    assert response.status_code == 400, response.json()


def test_a_404_outside_drf_has_the_error_shape(as_alice):
    response = as_alice.post(f"{ORDERS}not-an-id/cancel/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found"}
