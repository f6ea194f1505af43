"""The orders domain layer: the idempotency races that HTTP tests cannot time."""

import uuid
from decimal import Decimal

import pytest

from orders_service.orders import services
from orders_service.orders.exceptions import IdempotencyKeyInUse
from orders_service.orders.models import Order
from tests.orders.conftest import USERS
from tests.orders.factories import make_idempotency_key, make_order

pytestmark = pytest.mark.django_db

ALICE = USERS["alice"]
TOTAL = Decimal("10.00")
FINGERPRINT = services._fingerprint(customer_id=1, total=TOTAL)


def create(key: str = "k") -> services.OrderCreated:
    return services.order_create(
        owner=ALICE,
        customer_id=1,
        total=TOTAL,
        idempotency_key=key,
        render=lambda order: {"id": str(order.pk), "state": order.state},
    )


def order_for(key: str) -> Order:
    order_id = uuid.uuid5(
        services.ORDER_ID_NAMESPACE, f"{ALICE.id}\n{key}\n{FINGERPRINT}"
    )
    return make_order(id=order_id, total=str(TOTAL), state=Order.State.PENDING)


@pytest.fixture
def lost_race(monkeypatch):
    """Make the first look-up miss, as if the other request committed just after."""
    real = services._key_outcome
    calls = []

    def replay(**kwargs):
        calls.append(kwargs)
        return None if len(calls) == 1 else real(**kwargs)

    monkeypatch.setattr(services, "_key_outcome", replay)


def test_losing_the_race_to_a_request_in_flight_is_in_use(lost_race, customers_stub):
    make_idempotency_key(order_for("k"), key="k", fingerprint=FINGERPRINT)
    with pytest.raises(IdempotencyKeyInUse):
        create()
    assert customers_stub.calls == []


def test_losing_the_race_to_a_finished_request_replays_it(lost_race, customers_stub):
    make_idempotency_key(
        order_for("k"), key="k", fingerprint=FINGERPRINT, response={"state": "APPROVED"}
    )
    created = create()
    assert created.replayed
    assert created.response == {"state": "APPROVED"}
    assert Order.objects.count() == 1
    assert customers_stub.calls == []


def test_a_colliding_order_without_its_key_asks_for_a_retry(customers_stub):
    order_for("k")  # the first request's order, its key already gone
    with pytest.raises(IdempotencyKeyInUse):
        create()
    assert customers_stub.calls == []
