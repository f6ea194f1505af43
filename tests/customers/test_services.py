"""The customers domain layer: credit reservation rules."""

from decimal import Decimal

import pytest

from customers_service.customers import services
from customers_service.customers.exceptions import (
    CreditLimitBelowReserved,
    CustomerHasReservations,
    InsufficientCredit,
    ReservationConflict,
    ReservationReleased,
)
from customers_service.customers.models import (
    Customer,
    ReleasedReservation,
    Reservation,
)
from customers_service.customers.selectors import customer_list
from tests.customers.factories import make_customer, make_reservation
from tests.support.tokens import delegated

pytestmark = pytest.mark.django_db


def test_reservation_records_for_whom_and_by_whom(bob):
    customer = make_customer()
    reservation, created = services.reservation_create(
        customer=customer,
        order_id="o-1",
        amount=Decimal("30"),
        reserved_by=delegated(bob, "orders"),
    )
    assert created
    reservation.refresh_from_db()
    assert (reservation.sub, reservation.username, reservation.actor) == (
        "2",
        "bob",
        "orders",
    )


def test_same_order_twice_returns_the_first_reservation(alice):
    customer = make_customer()
    first, _ = services.reservation_create(
        customer=customer, order_id="o-1", amount=Decimal("30"), reserved_by=alice
    )
    again, created = services.reservation_create(
        customer=customer, order_id="o-1", amount=Decimal("30"), reserved_by=alice
    )
    assert not created
    assert again.pk == first.pk
    assert Reservation.objects.count() == 1


def test_same_order_with_another_amount_conflicts(alice):
    customer = make_customer()
    make_reservation(customer, order_id="o-1", amount="30")
    with pytest.raises(ReservationConflict):
        services.reservation_create(
            customer=customer, order_id="o-1", amount=Decimal("31"), reserved_by=alice
        )


def test_reserving_up_to_the_limit_then_one_cent_more(alice):
    customer = make_customer(credit_limit="100.00")
    make_reservation(customer, order_id="o-1", amount="99.99")
    services.reservation_create(
        customer=customer, order_id="o-2", amount=Decimal("0.01"), reserved_by=alice
    )
    with pytest.raises(InsufficientCredit) as raised:
        services.reservation_create(
            customer=customer, order_id="o-3", amount=Decimal("0.01"), reserved_by=alice
        )
    assert raised.value.available == Decimal("0")
    assert customer_list(user=alice).get().available_credit == Decimal("0")


def test_release_frees_the_credit_and_leaves_a_tombstone(alice):
    customer = make_customer()
    make_reservation(customer, order_id="o-1", amount="40")
    make_reservation(customer, order_id="o-2", amount="10")
    services.reservation_release(customer=customer, order_id="o-1")
    assert customer_list(user=alice).get().available_credit == Decimal("90")
    assert list(Reservation.objects.values_list("order_id", flat=True)) == ["o-2"]
    assert list(ReleasedReservation.objects.values_list("order_id", flat=True)) == [
        "o-1"
    ]


def test_releasing_twice_is_idempotent(alice):
    customer = make_customer()
    make_reservation(customer, order_id="o-1", amount="40")
    services.reservation_release(customer=customer, order_id="o-1")
    services.reservation_release(customer=customer, order_id="o-1")
    assert not Reservation.objects.exists()
    assert ReleasedReservation.objects.filter(order_id="o-1").count() == 1
    assert customer_list(user=alice).get().available_credit == Decimal("100")


def test_release_before_the_reservation_refuses_it(alice):
    """The race: orders' release (after a read timeout) beats its slow reserve."""
    customer = make_customer()
    services.reservation_release(customer=customer, order_id="o-1")
    assert ReleasedReservation.objects.filter(
        customer=customer, order_id="o-1"
    ).exists()
    with pytest.raises(ReservationReleased):
        services.reservation_create(
            customer=customer, order_id="o-1", amount=Decimal("30"), reserved_by=alice
        )
    assert not Reservation.objects.exists()
    assert customer_list(user=alice).get().available_credit == Decimal("100")
    reservation, created = services.reservation_create(
        customer=customer, order_id="o-2", amount=Decimal("30"), reserved_by=alice
    )
    assert created  # other orders are unaffected
    assert customer_list(user=alice).get().available_credit == Decimal("70")


def test_a_released_order_cannot_be_reserved_again(alice):
    customer = make_customer()
    services.reservation_create(
        customer=customer, order_id="o-1", amount=Decimal("30"), reserved_by=alice
    )
    services.reservation_release(customer=customer, order_id="o-1")
    with pytest.raises(ReservationReleased):
        services.reservation_create(
            customer=customer, order_id="o-1", amount=Decimal("30"), reserved_by=alice
        )
    assert not Reservation.objects.exists()


def test_credit_limit_cannot_go_below_reserved():
    customer = make_customer()
    make_reservation(customer, amount="60")
    with pytest.raises(CreditLimitBelowReserved):
        services.customer_update(customer=customer, credit_limit=Decimal("59.99"))
    updated = services.customer_update(customer=customer, credit_limit=Decimal("60"))
    assert updated.credit_limit == Decimal("60")


def test_customer_with_reservations_cannot_be_deleted():
    customer = make_customer()
    make_reservation(customer)
    with pytest.raises(CustomerHasReservations):
        services.customer_delete(customer=customer)
    services.reservation_release(customer=customer, order_id="order-1")
    services.customer_delete(customer=customer)  # tombstones go with it
    assert not Customer.objects.exists()
    assert not ReleasedReservation.objects.exists()


def test_list_is_scoped_to_the_owner_and_staff_sees_all(alice, bob, staff):
    make_customer(owner_sub="1")
    make_customer(owner_sub="2", owner_username="bob")
    assert [c.owner_sub for c in customer_list(user=alice)] == ["1"]
    assert [c.owner_sub for c in customer_list(user=bob)] == ["2"]
    assert customer_list(user=staff).count() == 2
