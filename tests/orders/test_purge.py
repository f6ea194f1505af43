"""``manage.py purge`` of the orders service, with a swapped clock."""

import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from orders_service.orders import purge
from orders_service.orders.models import IdempotencyKey, Order
from tests.orders.factories import make_idempotency_key, make_order

pytestmark = pytest.mark.django_db


def keyed_order(key: str, *, answered: bool = True) -> Order:
    order = make_order(total="5", state=Order.State.PENDING)
    make_idempotency_key(
        order, key=key, response={"id": str(order.pk)} if answered else None
    )
    return order


@pytest.fixture
def clock(monkeypatch):
    """Move the purge's clock by a timedelta."""
    shift = [timedelta(0)]
    monkeypatch.setattr(purge, "_now", lambda: timezone.now() + shift[0])
    return shift


def test_keys_past_their_retention_go_and_their_orders_stay(clock, settings):
    settings.IDEMPOTENCY_KEY_RETENTION = timedelta(hours=24)
    order = keyed_order("old")
    clock[0] = timedelta(hours=23)
    assert purge.orders_purge() == {"idempotency_keys": 0}
    clock[0] = timedelta(hours=24, seconds=1)
    assert purge.orders_purge() == {"idempotency_keys": 1}
    assert not IdempotencyKey.objects.exists()
    assert Order.objects.filter(pk=order.pk).exists()
    assert purge.orders_purge() == {"idempotency_keys": 0}


def test_a_key_still_waiting_for_its_answer_is_kept(clock):
    keyed_order("pending", answered=False)
    clock[0] = timedelta(days=30)
    assert purge.orders_purge() == {"idempotency_keys": 0}


def test_the_command_prints_the_counts(clock, capsys):
    keyed_order("old")
    clock[0] = timedelta(days=2)
    call_command("purge")
    assert json.loads(capsys.readouterr().out) == {"idempotency_keys": 1}
