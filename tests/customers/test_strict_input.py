"""The customers API is as strict as its schema, and its schema lists its errors.

Issue 14, item 4: the schema's money pattern accepted "" and negatives, the
server took ``{"name": 0}`` (stored "0"), ``page_size=null``, "1_000", "1e3",
" 5 " and non-ASCII digits. Item 2: a JSON body nested deep was a 500.
"""

import json
import re

import pytest
from django.test import Client
from django.test.utils import override_settings

from customers_service.customers.models import Customer, Reservation
from tests.customers.factories import make_customer

pytestmark = pytest.mark.django_db

CUSTOMERS = "/api/customers/"

BAD_MONEY = [
    "",
    "-5",
    "-0.01",
    "0",
    "0.00",
    "1_000",
    "1e3",
    " 5 ",
    "5 ",
    "\u0665",  # ARABIC-INDIC DIGIT FIVE
    "\uff15",  # FULLWIDTH DIGIT FIVE
    "05",
    "5.",
    ".5",
    "1.001",
    "+5",
    "0x10",
    "1000000000.01",
    "NaN",
    "Infinity",
    5,
    5.5,
    True,
    None,
    ["5"],
]
GOOD_MONEY = ["5", "0.01", "0.5", "12.50", "999999999.99", "1000000000.00"]


def schema(client) -> dict:
    return client.get("/api/schema/", HTTP_ACCEPT="application/json").json()


def money_pattern(client) -> re.Pattern:
    """Return the schema's credit_limit pattern (ECMA 262; ASCII-only here)."""
    field = schema(client)["components"]["schemas"]["CustomerRequest"]
    return re.compile(field["properties"]["credit_limit"]["pattern"], re.ASCII)


@pytest.mark.parametrize("value", BAD_MONEY, ids=repr)
def test_bad_money_is_refused_and_the_schema_refuses_it_too(as_alice, value):
    response = as_alice.post(
        CUSTOMERS, {"name": "Acme", "credit_limit": value}, format="json"
    )
    assert response.status_code == 400, response.json()
    assert response.json()["detail"].startswith("credit_limit: ")
    assert not Customer.objects.exists()
    if isinstance(value, str):
        assert not money_pattern(as_alice).search(value)


@pytest.mark.parametrize("value", GOOD_MONEY)
def test_good_money_is_accepted_and_matches_the_schema(as_alice, value):
    response = as_alice.post(
        CUSTOMERS, {"name": "Acme", "credit_limit": value}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert money_pattern(as_alice).search(value)
    assert money_pattern(as_alice).search(response.json()["credit_limit"])


def test_money_from_a_form_is_a_string_too(as_alice):
    response = as_alice.post(CUSTOMERS, {"name": "Acme", "credit_limit": "7.25"})
    assert response.status_code == 201, response.json()
    assert response.json()["credit_limit"] == "7.25"


@pytest.mark.parametrize("value", [0, 1.5, True, ["a"], {"a": "b"}, "", "a\x00b"])
def test_a_name_must_be_a_non_empty_string(as_alice, value):
    response = as_alice.post(
        CUSTOMERS, {"name": value, "credit_limit": "5"}, format="json"
    )
    assert response.status_code == 400, response.json()
    assert response.json()["detail"].startswith("name: ")
    assert not Customer.objects.exists()


def test_a_name_is_stored_as_sent(as_alice):
    response = as_alice.post(
        CUSTOMERS, {"name": " Acme ", "credit_limit": "5"}, format="json"
    )
    assert response.status_code == 201
    assert Customer.objects.get().name == " Acme "


@pytest.mark.parametrize("value", [5, "abc\n", "a b", "", "x" * 65, "\u0665"])
def test_an_order_id_must_be_a_string_of_the_pattern(orders_for_alice, value):
    customer = make_customer()
    response = orders_for_alice.post(
        f"{CUSTOMERS}{customer.pk}/reservations/",
        {"order_id": value, "amount": "5"},
        format="json",
    )
    assert response.status_code == 400, response.json()
    assert response.json()["detail"].startswith("order_id: ")
    assert not Reservation.objects.exists()


@pytest.mark.parametrize(
    "query",
    [
        {"page_size": "null"},
        {"page_size": ""},
        {"page_size": "0"},
        {"page_size": "-1"},
        {"page_size": "1.5"},
        {"page_size": " 5"},
        {"page_size": "1_0"},
        {"page_size": "\u0665"},
        {"page": "abc"},
        {"page": "0"},
        {"page": "last"},
    ],
    ids=repr,
)
def test_bad_paging_is_400(as_alice, query):
    response = as_alice.get(CUSTOMERS, query)
    assert response.status_code == 400, response.json()
    assert response.json()["code"] == "invalid"


def test_a_page_past_the_last_is_404(as_alice):
    assert as_alice.get(CUSTOMERS, {"page": "2"}).status_code == 404


@pytest.mark.parametrize("value", ["\x00", "a b", "x" * 65])
def test_a_bad_order_id_filter_is_400(as_alice, value):
    customer = make_customer()
    response = as_alice.get(
        f"{CUSTOMERS}{customer.pk}/reservations/", {"order_id": value}
    )
    assert response.status_code == 400, response.json()


HOSTILE_BODIES = {
    "nested 1000": "[" * 1000 + "]" * 1000,
    "nested 100000": "[" * 100_000 + "]" * 100_000,
    "long string": json.dumps({"name": "a" * 1_000_000, "credit_limit": "5"}),
    "many keys": json.dumps({f"k{i}": 1 for i in range(5000)}),
    "duplicate keys": '{"name": "a", "name": "b", "credit_limit": "5"}',
    "NaN": '{"name": "a", "credit_limit": NaN}',
}


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("body", HOSTILE_BODIES.values(), ids=HOSTILE_BODIES.keys())
def test_hostile_json_is_400_parse_error(as_alice, body, debug):
    with override_settings(DEBUG=debug):
        response = as_alice.post(CUSTOMERS, body, content_type="application/json")
    assert response.status_code == 400, response.content[:300]
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "parse_error"
    assert not Customer.objects.exists()


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_a_body_over_the_upload_limit_is_413(as_alice):
    body = json.dumps({"name": "a" * 1000, "credit_limit": "5"})
    response = as_alice.post(CUSTOMERS, body, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"


def test_the_schema_lists_each_operations_errors():
    document = schema(Client())
    paths = document["paths"]
    error = {"$ref": "#/components/schemas/Error"}
    expected = {
        ("/api/customers/", "get"): {"400", "401", "403", "404", "503"},
        ("/api/customers/", "post"): {"400", "401", "403", "413", "415", "503"},
        ("/api/customers/{id}/", "get"): {"401", "403", "404", "503"},
        ("/api/customers/{id}/", "patch"): {"400", "401", "403", "404", "409"},
        ("/api/customers/{id}/", "delete"): {"401", "403", "404", "409"},
        ("/api/customers/{customer_pk}/reservations/", "post"): {
            *("400", "401", "403", "404", "409", "413"),
        },
        ("/api/customers/{customer_pk}/reservations/{order_id}/", "delete"): {
            *("401", "403", "404"),
        },
    }
    for (path, method), statuses in expected.items():
        responses = paths[path][method]["responses"]
        assert statuses <= set(responses), (path, method, set(responses))
        for status in statuses:
            content = responses[status]["content"]["application/json"]
            assert content["schema"] == error
    properties = document["components"]["schemas"]["Error"]["properties"]
    assert {"detail", "code"} <= set(properties)
    reservation = document["components"]["schemas"]["ReservationRequest"]
    assert reservation["properties"]["order_id"]["pattern"] == "^[A-Za-z0-9_-]{1,64}$"
    [page_size] = [
        p
        for p in paths["/api/customers/"]["get"]["parameters"]
        if p["name"] == "page_size"
    ]
    assert page_size["schema"]["minimum"] == 1


# -- found by schemathesis (tests/e2e/test_fuzz.py) ------------------------------
def test_an_empty_order_id_filter_is_400_not_ignored(as_alice):
    customer = make_customer()
    response = as_alice.get(f"{CUSTOMERS}{customer.pk}/reservations/?order_id=")
    assert response.status_code == 400, response.json()
    assert response.json()["detail"].startswith("order_id: ")


@pytest.mark.parametrize("path", ["/api/customers/abc/", "/nowhere"])
def test_a_404_outside_drf_has_the_error_shape(as_alice, path):
    response = as_alice.get(path)
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found"}


def test_operations_with_path_parameters_document_the_gateways_400():
    paths = schema(Client())["paths"]
    for path in ("/api/customers/{id}/", "/api/customers/{customer_pk}/reservations/"):
        for operation in paths[path].values():
            assert "400" in operation["responses"]
            assert "invalid_path" in operation["responses"]["400"]["description"]
