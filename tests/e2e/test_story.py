"""The business story end to end, with real gunicorn processes and real tokens.

Alice logs in at the gateway and, with that one access token, creates a
customer and orders against its credit. The story runs twice: straight at the
services ("direct"), and through the gateway's /api/ proxy ("gateway").
"""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests

from devstack.stack import Stack

TIMEOUT = 15


class Api:
    """One user's HTTP client for orders and customers, via a chosen route."""

    def __init__(self, stack: Stack, username: str, route: str = "direct") -> None:
        self.token = stack.login(username)["access"]
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {self.token}"
        gateway = stack.url("gateway")
        self.bases = {
            "orders": gateway if route == "gateway" else stack.url("orders"),
            "customers": gateway if route == "gateway" else stack.url("customers"),
        }

    def call(self, method: str, service: str, path: str, **kwargs) -> requests.Response:
        return self.session.request(
            method, f"{self.bases[service]}{path}", timeout=TIMEOUT, **kwargs
        )

    def new_customer(self, credit_limit: str = "100.00", name: str = "Acme") -> dict:
        response = self.call(
            "POST",
            "customers",
            "/api/customers/",
            json={"name": name, "credit_limit": credit_limit},
        )
        assert response.status_code == 201, response.text
        return response.json()

    def customer(self, customer_id: int) -> requests.Response:
        return self.call("GET", "customers", f"/api/customers/{customer_id}/")

    def available(self, customer_id: int) -> Decimal:
        return Decimal(self.customer(customer_id).json()["available_credit"])

    def reservations(self, customer_id: int) -> list[dict]:
        response = self.call(
            "GET", "customers", f"/api/customers/{customer_id}/reservations/"
        )
        assert response.status_code == 200, response.text
        return response.json()["results"]

    def order(self, customer_id: int, total: str, **headers: str) -> requests.Response:
        return self.call(
            "POST",
            "orders",
            "/api/orders/",
            json={"customer_id": customer_id, "total": total},
            headers=headers,
        )

    def orders_of(self, customer_id: int) -> list[dict]:
        response = self.call(
            "GET", "orders", "/api/orders/", params={"customer_id": customer_id}
        )
        assert response.status_code == 200, response.text
        return response.json()["results"]


def gateway_proxies(stack: Stack) -> bool:
    """Return True if the gateway forwards /api/ to the services."""
    api = Api(stack, "alice", route="gateway")
    return api.call("GET", "orders", "/api/orders/").status_code == 200


@pytest.mark.parametrize("route", ["direct", "gateway"])
def test_the_full_story(stack, route):
    if route == "gateway":
        assert gateway_proxies(stack), "the gateway does not proxy /api/ yet"
    alice = Api(stack, "alice", route)
    customer = alice.new_customer(credit_limit="100.00")
    assert customer["owner_username"] == "alice"
    assert customer["available_credit"] == "100.00"

    approved = alice.order(customer["id"], "30.00")
    assert approved.status_code == 201, approved.text
    assert approved.json()["state"] == "APPROVED"
    assert alice.available(customer["id"]) == Decimal("70.00")
    [reservation] = alice.reservations(customer["id"])
    assert reservation["order_id"] == approved.json()["id"]
    assert reservation["amount"] == "30.00"
    assert (reservation["sub"], reservation["username"]) == (
        customer["owner_sub"],
        "alice",
    )
    assert reservation["actor"] == "orders"  # made by orders, for alice

    rejected = alice.order(customer["id"], "70.01")
    assert rejected.status_code == 201, rejected.text
    assert rejected.json()["state"] == "REJECTED"
    assert alice.available(customer["id"]) == Decimal("70.00")

    cancelled = alice.call(
        "POST", "orders", f"/api/orders/{approved.json()['id']}/cancel/"
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["state"] == "CANCELLED"
    assert alice.available(customer["id"]) == Decimal("100.00")
    assert alice.reservations(customer["id"]) == []
    states = {o["id"]: o["state"] for o in alice.orders_of(customer["id"])}
    assert states == {
        approved.json()["id"]: "CANCELLED",
        rejected.json()["id"]: "REJECTED",
    }
