"""Credit never goes negative: concurrent orders against one customer."""

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import requests

from tests.e2e.test_story import TIMEOUT, Api


def test_twenty_concurrent_orders_of_ten_against_a_limit_of_one_hundred(stack):
    alice = Api(stack, "alice")
    customer = alice.new_customer(credit_limit="100.00")

    def place(_: int) -> tuple[int, str]:
        # One connection per request: a requests.Session is not thread-safe.
        response = requests.post(
            f"{stack.url('orders')}/api/orders/",
            json={"customer_id": customer["id"], "total": "10.00"},
            headers={"Authorization": f"Bearer {alice.token}"},
            timeout=TIMEOUT * 4,
        )
        return response.status_code, response.json().get("state", response.text)

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(place, range(20)))

    assert Counter(results) == {(201, "APPROVED"): 10, (201, "REJECTED"): 10}
    assert alice.available(customer["id"]) == Decimal("0.00")
    assert len(alice.reservations(customer["id"])) == 10


def test_concurrent_retries_with_one_key_reserve_once(stack):
    alice = Api(stack, "alice")
    customer = alice.new_customer(credit_limit="100.00")
    key = f"race-{customer['id']}"

    def place(_: int) -> requests.Response:
        return requests.post(
            f"{stack.url('orders')}/api/orders/",
            json={"customer_id": customer["id"], "total": "10.00"},
            headers={"Authorization": f"Bearer {alice.token}", "Idempotency-Key": key},
            timeout=TIMEOUT * 4,
        )

    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(pool.map(place, range(6)))

    # Each answer is the order (first or replayed) or 409 "still in progress".
    assert {r.status_code for r in responses} <= {201, 409}
    created = [r.json() for r in responses if r.status_code == 201]
    assert created
    assert all(body == created[0] for body in created)
    assert len(alice.orders_of(customer["id"])) == 1
    assert len(alice.reservations(customer["id"])) == 1
    assert alice.available(customer["id"]) == Decimal("90.00")
