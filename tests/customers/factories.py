"""Factories of customers-service rows for the tests."""

from decimal import Decimal

from customers_service.customers.models import Customer, Reservation


def make_customer(
    *,
    owner_sub: str = "1",
    owner_username: str = "alice",
    name: str = "Acme",
    credit_limit: str = "100.00",
) -> Customer:
    return Customer.objects.create(
        owner_sub=owner_sub,
        owner_username=owner_username,
        name=name,
        credit_limit=Decimal(credit_limit),
    )


def make_reservation(
    customer: Customer, *, order_id: str = "order-1", amount: str = "10.00"
) -> Reservation:
    return Reservation.objects.create(
        customer=customer,
        order_id=order_id,
        amount=Decimal(amount),
        sub=customer.owner_sub,
        username=customer.owner_username,
        actor="orders",
    )
