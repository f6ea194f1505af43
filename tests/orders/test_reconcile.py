"""The reconciler against the customers stand-in (real HTTP: customers_stub)."""

import json
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from orders_service.orders import reconcile
from orders_service.orders.models import IdempotencyKey, Order
from orders_service.orders.reconcile import (
    CustomersApi,
    ReconcileError,
    client_credentials_token,
    reservations_reconcile,
)
from tests.orders.customers_stub import CLIENT, MACHINE_TOKEN
from tests.orders.factories import make_idempotency_key, make_order

pytestmark = pytest.mark.django_db

GRACE = timedelta(minutes=2)


@pytest.fixture
def api(customers_stub) -> CustomersApi:
    return CustomersApi(base_url=customers_stub.url, token=MACHINE_TOKEN)


@pytest.fixture
def later(monkeypatch):
    """Return a function moving the reconciler's clock forward by some seconds."""
    offset = [timedelta(0)]
    monkeypatch.setattr(reconcile, "_now", lambda: timezone.now() + offset[0])

    def move(seconds: float) -> None:
        offset[0] += timedelta(seconds=seconds)

    return move


def order(state: str, *, customer_id: int = 1, total: str = "10.00", key=None):
    created = make_order(
        owner_sub=str(customer_id), customer_id=customer_id, total=total, state=state
    )
    if key:
        make_idempotency_key(created, key=key)
    return created


def hold(stub, customer_id: int, order_id, amount: str = "10.00") -> None:
    stub.reservations[(customer_id, str(order_id))] = Decimal(amount)


def test_a_reservation_of_an_approved_order_is_kept(customers_stub, api, later):
    approved = order(Order.State.APPROVED)
    hold(customers_stub, 1, approved.pk)
    later(3600)
    report = reservations_reconcile(customers=api, grace=GRACE)
    assert report.released == [] and report.reservations_seen == 1
    assert (1, str(approved.pk)) in customers_stub.reservations


@pytest.mark.parametrize(
    "state", [Order.State.REJECTED, Order.State.CANCELLED, "absent"]
)
def test_a_reservation_without_an_approved_order_is_released(
    customers_stub, api, state
):
    order_id = uuid.uuid4() if state == "absent" else order(state).pk
    hold(customers_stub, 1, order_id)
    report = reservations_reconcile(customers=api, grace=GRACE)
    assert report.released == [str(order_id)]
    assert customers_stub.reservations == {}
    assert (1, str(order_id)) in customers_stub.released  # a late reserve is refused
    assert customers_stub.available(1) == Decimal("100.00")


def test_a_reservation_under_another_customer_than_its_order_is_released(
    customers_stub, api
):
    approved = order(Order.State.APPROVED, customer_id=1)
    hold(customers_stub, 1, approved.pk)
    hold(customers_stub, 2, approved.pk)
    report = reservations_reconcile(customers=api, grace=GRACE)
    assert report.released == [str(approved.pk)]
    assert set(customers_stub.reservations) == {(1, str(approved.pk))}


def test_a_pending_order_within_the_grace_period_is_left_alone(customers_stub, api):
    pending = order(Order.State.PENDING)
    hold(customers_stub, 1, pending.pk)
    report = reservations_reconcile(customers=api, grace=GRACE)
    assert report.approved == report.rejected == report.released == []
    pending.refresh_from_db()
    assert pending.state == Order.State.PENDING
    assert (1, str(pending.pk)) in customers_stub.reservations


def test_a_stale_pending_order_holding_its_reservation_is_approved(
    customers_stub, api, later
):
    pending = order(Order.State.PENDING, key="k-1")
    hold(customers_stub, 1, pending.pk)
    later(GRACE.total_seconds() + 1)
    report = reservations_reconcile(customers=api, grace=GRACE)
    assert report.approved == [str(pending.pk)] and report.released == []
    pending.refresh_from_db()
    assert pending.state == Order.State.APPROVED
    replay = IdempotencyKey.objects.get(order=pending).response
    assert replay["state"] == "APPROVED" and replay["id"] == str(pending.pk)
    assert (1, str(pending.pk)) in customers_stub.reservations


def test_a_stale_pending_order_without_reservation_is_rejected(
    customers_stub, api, later
):
    pending = order(Order.State.PENDING, key="k-2")
    later(GRACE.total_seconds() + 1)
    report = reservations_reconcile(customers=api, grace=GRACE)
    assert report.rejected == [str(pending.pk)]
    pending.refresh_from_db()
    assert pending.state == Order.State.REJECTED
    assert IdempotencyKey.objects.get(order=pending).response["state"] == "REJECTED"


def test_a_second_pass_changes_nothing(customers_stub, api, later):
    approved = order(Order.State.APPROVED)
    hold(customers_stub, 1, approved.pk)
    hold(customers_stub, 1, uuid.uuid4())
    stale = order(Order.State.PENDING)
    later(GRACE.total_seconds() + 1)
    first = reservations_reconcile(customers=api, grace=GRACE)
    assert first.rejected == [str(stale.pk)] and len(first.released) == 1
    second = reservations_reconcile(customers=api, grace=GRACE)
    assert second.approved == second.rejected == second.released == []
    assert second.reservations_seen == 1


def test_an_unreachable_customers_service_changes_nothing(customers_stub, api, later):
    stale = order(Order.State.PENDING)
    customers_stub.mode = "error"
    later(GRACE.total_seconds() + 1)
    with pytest.raises(ReconcileError):
        reservations_reconcile(customers=api, grace=GRACE)
    stale.refresh_from_db()
    assert stale.state == Order.State.PENDING


@pytest.fixture
def issuer(customers_stub, settings):
    """The stub is the gateway too: the orders client's credentials are set."""
    settings.JWT_ISSUER = customers_stub.url
    settings.ORDERS_CLIENT_ID, settings.ORDERS_CLIENT_SECRET = CLIENT
    return customers_stub


def test_the_command_prints_its_report(issuer, monkeypatch, capsys):
    # An admin's token in the environment is not taken any more (it used to be).
    monkeypatch.setenv("RECONCILE_ACCESS_TOKEN", "staff-token")
    orphan = uuid.uuid4()
    hold(issuer, 2, orphan)
    call_command("reconcile_reservations")
    report = json.loads(capsys.readouterr().out)
    assert report["released"] == [str(orphan)]
    # The orders client's own token, from the client credentials grant.
    grant = issuer.exchanges[-1]
    assert grant["grant_type"] == "client_credentials"
    assert grant["audience"] == "customers"
    assert issuer.calls[-1]["headers"]["Authorization"] == f"Bearer {MACHINE_TOKEN}"


def test_the_command_fails_when_the_gateway_refuses_the_client(issuer, settings):
    settings.ORDERS_CLIENT_SECRET = "wrong"
    orphan = uuid.uuid4()
    hold(issuer, 2, orphan)
    with pytest.raises(CommandError, match="401"):
        call_command("reconcile_reservations")
    assert not issuer.calls  # customers never called
    assert (2, str(orphan)) in issuer.reservations


def test_the_token_comes_from_the_orders_clients_credentials(settings):
    settings.JWT_ISSUER = "http://issuer.test"
    settings.ORDERS_CLIENT_ID, settings.ORDERS_CLIENT_SECRET = "orders", "s3cret"
    sent = {}

    class Answer:
        status_code = 200

        def json(self):
            return {"access_token": "tok", "token_type": "Bearer"}

    def post(url, **kwargs):
        sent.update(kwargs, url=url)
        return Answer()

    assert client_credentials_token(post=post) == "tok"
    assert sent["url"] == "http://issuer.test/auth/oauth/token/"
    assert sent["auth"] == ("orders", "s3cret")
    assert sent["data"]["grant_type"] == "client_credentials"
    assert sent["data"]["audience"] == "customers"
    assert "reservations:write" in sent["data"]["scope"].split()
    assert sent["timeout"]
