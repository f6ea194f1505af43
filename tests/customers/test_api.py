"""The customers HTTP API: owner scoping, validation, reservations, errors."""

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from customers_service.customers.models import (
    Customer,
    ReleasedReservation,
    Reservation,
)
from shared_auth.user import TokenUser
from tests.customers.factories import make_customer, make_reservation
from tests.support.tokens import (
    DELEGATED_SCOPE,
    LOGIN_SCOPE,
    delegated,
    machine,
    token_user,
)

pytestmark = pytest.mark.django_db

CUSTOMERS = "/api/customers/"


def reservations_url(customer: Customer) -> str:
    return f"{CUSTOMERS}{customer.pk}/reservations/"


# -- customers -------------------------------------------------------------------
def test_create_takes_the_owner_from_the_token_and_ignores_mass_assignment(as_alice):
    response = as_alice.post(
        CUSTOMERS,
        {
            "name": "Acme",
            "credit_limit": "100.00",
            "owner_sub": "2",
            "owner_username": "bob",
            "available_credit": "1000000",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["owner_sub"] == "1"
    assert body["owner_username"] == "alice"
    assert body["credit_limit"] == "100.00"
    assert body["available_credit"] == "100.00"
    assert Customer.objects.get().owner_sub == "1"


def test_detail_shows_the_available_credit(as_alice):
    customer = make_customer(credit_limit="100.00")
    make_reservation(customer, amount="30.50")
    body = as_alice.get(f"{CUSTOMERS}{customer.pk}/").json()
    assert body["credit_limit"] == "100.00"
    assert body["available_credit"] == "69.50"


def test_list_is_scoped_and_paginated(as_alice, as_staff, django_assert_num_queries):
    for n in range(3):
        make_reservation(make_customer(name=f"a{n}"), order_id=f"o{n}")
    make_customer(owner_sub="2", owner_username="bob")
    with django_assert_num_queries(2):  # count + page, annotations in one query
        body = as_alice.get(CUSTOMERS).json()
    assert body["count"] == 3
    assert {c["owner_username"] for c in body["results"]} == {"alice"}
    assert as_staff.get(CUSTOMERS).json()["count"] == 4


def test_page_size_is_capped(as_alice):
    Customer.objects.bulk_create(
        Customer(owner_sub="1", owner_username="alice", name=f"c{n}", credit_limit=1)
        for n in range(105)
    )
    body = as_alice.get(CUSTOMERS, {"page_size": 100000}).json()
    assert body["count"] == 105
    assert len(body["results"]) == 100


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-1", "greater than or equal to 0.01"),
        ("0", "greater than or equal to 0.01"),
        ("1.001", "decimal places"),
        ("abc", "valid number"),
        ("NaN", "valid number"),
        ("1000000000.01", "less than or equal to 1000000000.00"),
        ("1e40", "digits"),
        (None, "null"),
    ],
)
def test_bad_money_is_a_400_naming_the_field(as_alice, value, message):
    response = as_alice.post(
        CUSTOMERS, {"name": "Acme", "credit_limit": value}, format="json"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["detail"].startswith("credit_limit: ")
    assert message in body["detail"]
    assert "credit_limit" in body["errors"]
    assert not Customer.objects.exists()


def test_update_and_delete_own_customer(as_alice):
    customer = make_customer()
    response = as_alice.patch(
        f"{CUSTOMERS}{customer.pk}/",
        {"name": "Renamed", "owner_sub": "2"},
        format="json",
    )
    assert response.status_code == 200
    customer.refresh_from_db()
    assert (customer.name, customer.owner_sub) == ("Renamed", "1")
    assert as_alice.delete(f"{CUSTOMERS}{customer.pk}/").status_code == 204
    assert not Customer.objects.exists()


def test_lowering_the_limit_below_reserved_is_409(as_alice):
    customer = make_customer()
    make_reservation(customer, amount="60")
    response = as_alice.patch(
        f"{CUSTOMERS}{customer.pk}/", {"credit_limit": "50"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "credit_limit_below_reserved"
    response = as_alice.delete(f"{CUSTOMERS}{customer.pk}/")
    assert response.status_code == 409
    assert response.json() == {
        "detail": "The customer still holds credit reservations.",
        "code": "has_reservations",
    }


def test_another_users_customer_is_invisible_on_every_verb_and_path(
    as_bob, orders_for_bob
):
    customer = make_customer(credit_limit="100.00")
    make_reservation(customer, order_id="o-1", amount="10")
    detail = f"{CUSTOMERS}{customer.pk}/"
    calls = [
        ("get", detail, None),
        ("put", detail, {"name": "x", "credit_limit": "1"}),
        ("patch", detail, {"name": "x"}),
        ("delete", detail, None),
        ("get", reservations_url(customer), None),
        ("get", f"{reservations_url(customer)}o-1/", None),
    ]
    writes = [
        ("post", reservations_url(customer), {"order_id": "o-2", "amount": "1"}),
        ("delete", f"{reservations_url(customer)}o-1/", None),
    ]
    for client, (method, url, data) in [
        *((as_bob, call) for call in calls),
        *((orders_for_bob, call) for call in writes),
    ]:
        response = getattr(client, method)(url, data, format="json")
        assert response.status_code == 404, (method, url)
        assert response.json() == {"detail": "Not found.", "code": "not_found"}
    assert as_bob.get(CUSTOMERS).json()["count"] == 0
    customer.refresh_from_db()
    assert (customer.name, customer.credit_limit) == ("Acme", Decimal("100"))
    assert list(Reservation.objects.values_list("order_id", flat=True)) == ["o-1"]


def test_unauthenticated_is_401_json():
    response = APIClient().get(CUSTOMERS)
    assert response.status_code == 401
    assert response.json()["detail"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_huge_customer_id_in_the_path_is_404_not_500(as_alice):
    assert as_alice.get(f"{CUSTOMERS}{'9' * 30}/").status_code == 404


# -- reservations ------------------------------------------------------------------
def test_reserve_then_same_order_again_returns_the_first(as_alice, orders_for_alice):
    customer = make_customer()
    payload = {
        "order_id": "o-1",
        "amount": "30.00",
        "sub": "2",
        "username": "bob",
        "actor": "me",
    }
    first = orders_for_alice.post(reservations_url(customer), payload, format="json")
    assert first.status_code == 201
    assert first.json()["sub"] == "1"
    assert first.json()["username"] == "alice"
    assert first.json()["actor"] == "orders"
    again = orders_for_alice.post(reservations_url(customer), payload, format="json")
    assert again.status_code == 200
    assert again.json() == first.json()
    assert Reservation.objects.count() == 1


def test_short_credit_is_409_and_nothing_is_reserved(as_alice, orders_for_alice):
    customer = make_customer(credit_limit="100")
    response = orders_for_alice.post(
        reservations_url(customer), {"order_id": "o-1", "amount": "100.01"}
    )
    assert response.status_code == 409
    assert response.json()["code"] == "insufficient_credit"
    assert "detail" in response.json()
    assert not Reservation.objects.exists()


def test_same_order_other_amount_is_409(as_alice, orders_for_alice):
    customer = make_customer()
    make_reservation(customer, order_id="o-1", amount="10")
    response = orders_for_alice.post(
        reservations_url(customer), {"order_id": "o-1", "amount": "11"}
    )
    assert response.status_code == 409
    assert response.json()["code"] == "reservation_conflict"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"order_id": "o 1", "amount": "1"}, "order_id"),
        ({"order_id": "..", "amount": "1"}, "order_id"),
        ({"order_id": "x" * 65, "amount": "1"}, "order_id"),
        ({"order_id": "o-1", "amount": "-5"}, "amount"),
        ({"order_id": "o-1"}, "amount"),
    ],
)
def test_bad_reservation_is_400_naming_the_field(
    as_alice, orders_for_alice, payload, field
):
    response = orders_for_alice.post(
        reservations_url(make_customer()), payload, format="json"
    )
    assert response.status_code == 400
    assert response.json()["detail"].startswith(f"{field}: ")


def test_list_filter_retrieve_and_release(as_alice, orders_for_alice):
    customer = make_customer()
    make_reservation(customer, order_id="o-1", amount="10")
    make_reservation(customer, order_id="o-2", amount="20")
    url = reservations_url(customer)
    assert as_alice.get(url).json()["count"] == 2
    filtered = as_alice.get(url, {"order_id": "o-2"}).json()["results"]
    assert [r["amount"] for r in filtered] == ["20.00"]
    assert as_alice.get(f"{url}o-1/").json()["amount"] == "10.00"
    assert orders_for_alice.delete(f"{url}o-1/").status_code == 204
    assert orders_for_alice.delete(f"{url}o-1/").status_code == 204  # idempotent
    assert as_alice.get(f"{CUSTOMERS}{customer.pk}/").json()["available_credit"] == (
        "80.00"
    )
    assert [r["order_id"] for r in as_alice.get(url).json()["results"]] == ["o-2"]
    assert as_alice.get(f"{url}o-1/").status_code == 404
    assert list(Reservation.objects.values_list("order_id", flat=True)) == ["o-2"]
    assert list(ReleasedReservation.objects.values_list("order_id", flat=True)) == [
        "o-1"
    ]


def test_reserve_after_its_release_is_409_and_reserves_nothing(
    as_alice, orders_for_alice
):
    """A slow reserve reaching customers after orders released it is refused."""
    customer = make_customer(credit_limit="100")
    url = reservations_url(customer)
    assert (
        orders_for_alice.delete(f"{url}o-1/").status_code == 204
    )  # nothing to release
    response = orders_for_alice.post(url, {"order_id": "o-1", "amount": "30"})
    assert response.status_code == 409
    assert response.json() == {
        "detail": "This order's reservation was released; it cannot be made.",
        "code": "reservation_released",
    }
    assert not Reservation.objects.exists()
    assert ReleasedReservation.objects.filter(
        customer=customer, order_id="o-1"
    ).exists()
    body = as_alice.get(f"{CUSTOMERS}{customer.pk}/").json()
    assert body["available_credit"] == "100.00"
    assert as_alice.get(url).json()["count"] == 0


def test_staff_reserves_on_anyones_customer_as_themselves(orders_for_staff):
    customer = make_customer()
    response = orders_for_staff.post(
        reservations_url(customer), {"order_id": "o-1", "amount": "5"}
    )
    assert response.status_code == 201
    assert response.json()["username"] == "admin"


# -- scopes and delegation ------------------------------------------------------------
def assert_insufficient_scope(response, scope: str) -> None:
    assert response.status_code == 403, response.content
    assert response.json()["code"] == "insufficient_scope"
    assert response["WWW-Authenticate"] == (
        f'Bearer error="insufficient_scope", scope="{scope}"'
    )


def test_a_users_own_token_cannot_reserve_or_release(as_alice, orders_for_alice):
    """The attack: alice releasing her approved orders' credit by hand."""
    customer = make_customer(credit_limit="100")
    make_reservation(customer, order_id="o-1", amount="100")
    url = reservations_url(customer)
    assert_insufficient_scope(
        as_alice.post(url, {"order_id": "o-2", "amount": "1"}), "reservations:write"
    )
    assert_insufficient_scope(as_alice.delete(f"{url}o-1/"), "reservations:write")
    assert list(Reservation.objects.values_list("order_id", flat=True)) == ["o-1"]
    assert not ReleasedReservation.objects.exists()
    body = as_alice.get(f"{CUSTOMERS}{customer.pk}/").json()
    assert body["available_credit"] == "0.00"
    # Alice still reads them, with the actor that made each.
    [reservation] = as_alice.get(url).json()["results"]
    assert (reservation["username"], reservation["actor"]) == ("alice", "orders")


@pytest.mark.parametrize(
    "claims",
    [
        {"scope": "customers:read customers:write reservations:write"},  # no act
        {"scope": "reservations:write", "act": {"sub": "billing"}},
        {"scope": "reservations:write", "act": {"sub": "x", "act": {"sub": "orders"}}},
        {"scope": "customers:read", "act": {"sub": "orders"}},  # no scope
    ],
    ids=["scope without actor", "other actor", "orders only nested", "no scope"],
)
def test_reservation_writes_need_the_scope_and_an_allowed_actor(client_for, claims):
    customer = make_customer()
    client = client_for(token_user("1", "alice", **claims))
    url = reservations_url(customer)
    assert_insufficient_scope(
        client.post(url, {"order_id": "o-1", "amount": "1"}), "reservations:write"
    )
    assert_insufficient_scope(client.delete(f"{url}o-1/"), "reservations:write")
    assert not Reservation.objects.exists()
    assert not ReleasedReservation.objects.exists()


def test_allowed_actors_come_from_the_setting(client_for, alice, settings):
    settings.RESERVATION_ACTORS = ["billing"]
    url = reservations_url(make_customer())
    payload = {"order_id": "o-1", "amount": "1"}
    refused = client_for(delegated(alice, "orders")).post(url, payload)
    assert_insufficient_scope(refused, "reservations:write")
    response = client_for(delegated(alice, "billing")).post(url, payload)
    assert response.status_code == 201
    assert response.json()["actor"] == "billing"


# -- machine tokens: a client acting for no user ------------------------------------
@pytest.fixture
def two_owners() -> tuple[Customer, Customer]:
    """Alice's customer holding order-a (30), bob's holding order-b (40)."""
    alices = make_customer(credit_limit="100.00")
    bobs = make_customer(owner_sub="2", owner_username="bob", credit_limit="100.00")
    make_reservation(alices, order_id="order-a", amount="30.00")
    make_reservation(bobs, order_id="order-b", amount="40.00")
    return alices, bobs


@pytest.mark.parametrize("client_id", ["orders", "partner"])
def test_a_machine_token_reads_every_customer_and_reservation(
    client_for, two_owners, client_id
):
    reader = client_for(machine(client_id, scope="customers:read"))
    listed = reader.get(CUSTOMERS).json()
    assert [c["id"] for c in listed["results"]] == [c.pk for c in two_owners]
    for customer, order_id in zip(two_owners, ["order-a", "order-b"], strict=True):
        one = reader.get(f"{CUSTOMERS}{customer.pk}/")
        assert one.status_code == 200, one.content
        url = reservations_url(customer)
        [held] = reader.get(url).json()["results"]
        assert held["order_id"] == order_id
        assert reader.get(f"{url}{order_id}/").status_code == 200


def test_a_machine_token_needs_customers_read_to_list(client_for, two_owners):
    writer_only = client_for(machine("orders", scope="reservations:write"))
    assert_insufficient_scope(writer_only.get(CUSTOMERS), "customers:read")
    alices, _ = two_owners
    assert_insufficient_scope(
        writer_only.get(reservations_url(alices)), "customers:read"
    )


def test_the_orders_machine_token_releases_and_reserves_for_no_user(
    client_for, two_owners
):
    """The reconciler: orders acting for no user, on anyone's customer."""
    orders = client_for(machine("orders"))
    alices, bobs = two_owners
    released = orders.delete(f"{reservations_url(bobs)}order-b/")
    assert released.status_code == 204, released.content
    assert not Reservation.objects.filter(order_id="order-b").exists()
    assert ReleasedReservation.objects.filter(customer=bobs, order_id="order-b")
    assert orders.get(f"{CUSTOMERS}{bobs.pk}/").json()["available_credit"] == "100.00"
    made = orders.post(
        reservations_url(alices), {"order_id": "order-c", "amount": "5.00"}
    )
    assert made.status_code == 201, made.content
    # Made for no user: the reservation names the client, and no actor.
    body = made.json()
    assert (body["sub"], body["username"], body["actor"]) == ("orders", "", "")
    assert orders.get(f"{CUSTOMERS}{alices.pk}/").json()["available_credit"] == "65.00"


@pytest.mark.parametrize(
    "principal",
    ["batch", "orders with another sub", "alice with orders' client_id"],
)
def test_other_machine_clients_and_users_cannot_write_reservations(
    client_for, two_owners, principal
):
    caller = {
        "batch": machine("batch"),
        "orders with another sub": TokenUser(
            {"sub": "batch", "client_id": "orders", "scope": DELEGATED_SCOPE}
        ),
        "alice with orders' client_id": token_user(
            "1", "alice", scope=DELEGATED_SCOPE, client_id="orders"
        ),
    }[principal]
    client = client_for(caller)
    alices, _ = two_owners
    url = reservations_url(alices)
    assert_insufficient_scope(
        client.post(url, {"order_id": "order-x", "amount": "1"}), "reservations:write"
    )
    assert_insufficient_scope(client.delete(f"{url}order-a/"), "reservations:write")
    assert sorted(Reservation.objects.values_list("order_id", flat=True)) == [
        "order-a",
        "order-b",
    ]
    assert not ReleasedReservation.objects.exists()


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("get", "", "customers:read"),
        ("get", "{id}/", "customers:read"),
        ("post", "", "customers:write"),
        ("patch", "{id}/", "customers:write"),
        ("put", "{id}/", "customers:write"),
        ("delete", "{id}/", "customers:write"),
        ("get", "{id}/reservations/", "customers:read"),
        ("get", "{id}/reservations/order-1/", "customers:read"),
    ],
)
def test_every_operation_checks_its_scope(client_for, method, path, scope):
    customer = make_customer()
    make_reservation(customer)
    url = CUSTOMERS + path.format(id=customer.pk)
    data = {"name": "B", "credit_limit": "50"}
    narrowed = " ".join(s for s in LOGIN_SCOPE.split() if s != scope)
    lacking = client_for(token_user("1", "alice", scope=narrowed))
    assert_insufficient_scope(getattr(lacking, method)(url, data, format="json"), scope)
    holding = client_for(token_user("1", "alice", scope=scope))
    # Past the scope check (a delete then meets the reservation: 409).
    assert getattr(holding, method)(url, data, format="json").status_code in (
        200,
        201,
        409,
    )


# -- docs ----------------------------------------------------------------------------
def test_schema_declares_bearer_auth_and_docs_are_served():
    client = APIClient()
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert schema["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    assert "/api/customers/{customer_pk}/reservations/" in schema["paths"]
    paths = schema["paths"]
    assert paths["/api/customers/"]["get"]["security"] == [
        {"bearerAuth": ["customers:read"]}
    ]
    assert paths["/api/customers/"]["post"]["security"] == [
        {"bearerAuth": ["customers:write"]}
    ]
    reservations = paths["/api/customers/{customer_pk}/reservations/"]
    assert reservations["get"]["security"] == [{"bearerAuth": ["customers:read"]}]
    assert reservations["post"]["security"] == [{"bearerAuth": ["reservations:write"]}]
    release = paths["/api/customers/{customer_pk}/reservations/{order_id}/"]
    assert release["delete"]["security"] == [{"bearerAuth": ["reservations:write"]}]
    for path, operations in paths.items():
        for method, operation in operations.items():
            assert operation["security"][0]["bearerAuth"], (method, path)
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()


def test_admin_and_browsable_api_are_served(admin_client, as_alice):
    customer = make_customer()
    make_reservation(customer)
    assert admin_client.get("/admin/customers/customer/").status_code == 200
    page = admin_client.get(f"/admin/customers/customer/{customer.pk}/change/")
    assert page.status_code == 200
    assert b"order-1" in page.content  # the reservations inline
    assert admin_client.get("/admin/customers/reservation/").status_code == 200
    html = as_alice.get(CUSTOMERS, HTTP_ACCEPT="text/html")
    assert html.status_code == 200
    assert b"Acme" in html.content
