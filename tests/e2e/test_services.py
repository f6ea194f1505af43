"""Owner scoping, faults and idempotency across the real services."""

from decimal import Decimal

import requests

from tests.e2e.test_story import Api


def test_bob_cannot_see_or_use_alices_customer(stack):
    alice, bob = Api(stack, "alice"), Api(stack, "bob")
    customer = alice.new_customer(name="Alice Ltd")
    order = alice.order(customer["id"], "10.00").json()

    assert bob.customer(customer["id"]).status_code == 404
    listed = bob.call("GET", "customers", "/api/customers/").json()["results"]
    assert customer["id"] not in [c["id"] for c in listed]
    reservations = f"/api/customers/{customer['id']}/reservations/"
    assert bob.call("GET", "customers", reservations).status_code == 404
    steal = bob.call(
        "POST", "customers", reservations, json={"order_id": "x", "amount": "1"}
    )
    # A user's own token may not write reservations at all (docs/delegation.md).
    assert steal.status_code == 403
    assert steal.json()["code"] == "insufficient_scope"
    release = bob.call("DELETE", "customers", f"{reservations}{order['id']}/")
    assert release.status_code == 403
    assert release.json()["code"] == "insufficient_scope"
    used = bob.order(customer["id"], "10.00")
    assert used.status_code == 404
    assert "Alice" not in used.text
    assert bob.orders_of(customer["id"]) == []
    assert bob.call("GET", "orders", f"/api/orders/{order['id']}/").status_code == 404
    cancel = bob.call("POST", "orders", f"/api/orders/{order['id']}/cancel/")
    assert cancel.status_code == 404
    assert alice.available(customer["id"]) == Decimal("90.00")


def test_staff_sees_everyones_orders(stack):
    alice, admin = Api(stack, "alice"), Api(stack, "admin")
    customer = alice.new_customer()
    order = alice.order(customer["id"], "5.00").json()
    seen = admin.call("GET", "orders", f"/api/orders/{order['id']}/")
    assert seen.status_code == 200
    assert seen.json()["owner_username"] == "alice"
    assert admin.customer(customer["id"]).status_code == 200


def test_customers_down_gives_503_and_nothing_is_stored(stack):
    alice = Api(stack, "alice")
    customer = alice.new_customer()
    stack.stop("customers")
    try:
        response = alice.order(customer["id"], "10.00", **{"Idempotency-Key": "down-1"})
    finally:
        stack.start("customers")
    assert response.status_code == 503
    assert response.json()["detail"] == "The customers service is unavailable."
    assert alice.orders_of(customer["id"]) == []
    assert alice.available(customer["id"]) == Decimal("100.00")
    # The key was not used up: the retry goes through once customers is back.
    retry = alice.order(customer["id"], "10.00", **{"Idempotency-Key": "down-1"})
    assert retry.json()["state"] == "APPROVED"


def test_idempotent_retry_returns_the_first_result(stack):
    alice = Api(stack, "alice")
    customer = alice.new_customer()
    key = {"Idempotency-Key": f"story-{customer['id']}"}
    first = alice.order(customer["id"], "25.00", **key)
    again = alice.order(customer["id"], "25.00", **key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(alice.orders_of(customer["id"])) == 1
    assert len(alice.reservations(customer["id"])) == 1
    assert alice.available(customer["id"]) == Decimal("75.00")


def test_bad_money_is_400_naming_the_field(stack):
    alice = Api(stack, "alice")
    customer = alice.new_customer()
    response = alice.order(customer["id"], "1.001")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("total: ")


def test_no_token_is_401_and_docs_are_served(stack):
    for service in ("orders", "customers"):
        base = stack.url(service)
        response = requests.get(f"{base}/api/{service}/", timeout=10)
        assert response.status_code == 401
        assert response.json()["detail"]
        schema = requests.get(f"{base}/api/schema/?format=json", timeout=10)
        assert schema.json()["components"]["securitySchemes"]["bearerAuth"]
        assert requests.get(f"{base}/api/docs/", timeout=10).status_code == 200
