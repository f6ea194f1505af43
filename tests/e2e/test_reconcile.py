"""The reservation reconciler against a real stack, with its own token only.

``reconcile_reservations`` (orders settings) asks the gateway for the orders
client's own client credentials token (provisioned by ``seed_demo``, the secret
in the stack's ``VAR_DIR``) and, acting for no user, lists every customer's
reservations at customers and releases those with no APPROVED order. No token
is passed to it.
"""

from __future__ import annotations

import json
import uuid
from decimal import Decimal

import requests

from devstack.stack import Stack
from tests.e2e.test_delegation import (
    assert_insufficient_scope,
    bearer,
    claims_of,
    create_client,
    exchange,
    machine_token,
    orders_credentials,
)
from tests.e2e.test_story import Api

TIMEOUT = 15
RESERVATION_SCOPE = "customers:read reservations:write"


def reserve(stack: Stack, token: str, customer_id: int, order_id: str, amount: str):
    return requests.post(
        f"{stack.url('customers')}/api/customers/{customer_id}/reservations/",
        json={"order_id": order_id, "amount": amount},
        headers=bearer(token),
        timeout=TIMEOUT,
    )


def release(stack: Stack, token: str, customer_id: int, order_id: str):
    return requests.delete(
        f"{stack.url('customers')}/api/customers/{customer_id}/reservations/"
        f"{order_id}/",
        headers=bearer(token),
        timeout=TIMEOUT,
    )


def test_the_reconciler_releases_orphans_with_the_orders_clients_own_token(stack):
    alice, bob = Api(stack, "alice"), Api(stack, "bob")
    alices = alice.new_customer("100.00", name="reconciled")
    bobs = bob.new_customer("100.00", name="reconciled")
    approved = alice.order(alices["id"], "10.00").json()
    assert approved["state"] == "APPROVED", approved

    # Two reservations whose orders do not exist at orders: one made by orders
    # for alice (her token, exchanged), one by orders for no user (its own).
    orders = orders_credentials(stack)
    exchanged = exchange(
        stack, orders, alice.token, audience="customers", scope=RESERVATION_SCOPE
    )
    assert exchanged.status_code == 200, exchanged.text
    delegated = exchanged.json()["access_token"]
    own = machine_token(stack, orders, scope=RESERVATION_SCOPE, audience="customers")
    assert claims_of(own)["sub"] == claims_of(own)["client_id"] == "orders"
    assert "username" not in claims_of(own) and "act" not in claims_of(own)
    alice_orphan, bob_orphan = str(uuid.uuid4()), str(uuid.uuid4())
    made = reserve(stack, delegated, alices["id"], alice_orphan, "25.00")
    assert made.status_code == 201, made.text
    made = reserve(stack, own, bobs["id"], bob_orphan, "40.00")
    assert made.status_code == 201, made.text
    assert alice.available(alices["id"]) == Decimal("65.00")
    assert bob.available(bobs["id"]) == Decimal("60.00")

    # Nobody else may release them: another client's own token, even with the
    # scopes, nor an admin's login token.
    batch = create_client(
        stack,
        "batch",
        "--scope",
        RESERVATION_SCOPE,
        "--audience",
        "customers",
    )
    other = machine_token(stack, batch, scope=RESERVATION_SCOPE)
    assert_insufficient_scope(
        release(stack, other, bobs["id"], bob_orphan), "reservations:write"
    )
    assert_insufficient_scope(
        reserve(stack, other, bobs["id"], str(uuid.uuid4()), "1.00"),
        "reservations:write",
    )
    admin = stack.login("admin")["access"]
    assert_insufficient_scope(
        release(stack, admin, bobs["id"], bob_orphan), "reservations:write"
    )

    report = json.loads(stack.manage("orders", "reconcile_reservations"))
    assert {alice_orphan, bob_orphan} <= set(report["released"]), report
    assert approved["id"] not in report["released"]
    assert report["release_failed"] == []

    assert [r["order_id"] for r in alice.reservations(alices["id"])] == [approved["id"]]
    assert bob.reservations(bobs["id"]) == []
    assert alice.available(alices["id"]) == Decimal("90.00")
    assert bob.available(bobs["id"]) == Decimal("100.00")

    # A second pass finds nothing of these to do; a late reserve is refused.
    again = json.loads(stack.manage("orders", "reconcile_reservations"))
    assert not {alice_orphan, bob_orphan} & set(again["released"])
    late = reserve(stack, own, bobs["id"], bob_orphan, "40.00")
    assert late.status_code == 409, late.text
    assert bob.available(bobs["id"]) == Decimal("100.00")
