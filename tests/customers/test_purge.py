"""``manage.py purge`` of the customers service, with a swapped clock."""

import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from customers_service.customers import purge
from customers_service.customers.models import ReleasedReservation
from customers_service.customers.services import reservation_release
from tests.customers.factories import make_customer, make_reservation

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(monkeypatch):
    shift = [timedelta(0)]
    monkeypatch.setattr(purge, "_now", lambda: timezone.now() + shift[0])
    return shift


def test_tombstones_past_their_retention_go(clock, settings):
    settings.RELEASE_TOMBSTONE_RETENTION = timedelta(days=7)
    customer = make_customer()
    make_reservation(customer, order_id="o-1")
    reservation_release(customer=customer, order_id="o-1")
    clock[0] = timedelta(days=6)
    assert purge.customers_purge() == {"release_tombstones": 0}
    clock[0] = timedelta(days=7, seconds=1)
    assert purge.customers_purge() == {"release_tombstones": 1}
    assert not ReleasedReservation.objects.exists()
    assert purge.customers_purge() == {"release_tombstones": 0}


def test_tombstones_outlive_the_orders_idempotency_keys():
    from customers_service import settings as customers_settings
    from orders_service import settings as orders_settings

    assert (
        customers_settings.RELEASE_TOMBSTONE_RETENTION
        > orders_settings.IDEMPOTENCY_KEY_RETENTION
    )


def test_the_command_prints_the_counts(clock, capsys):
    reservation_release(customer=make_customer(), order_id="o-2")
    clock[0] = timedelta(days=30)
    call_command("purge")
    assert json.loads(capsys.readouterr().out) == {"release_tombstones": 1}
