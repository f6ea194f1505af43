"""Request and response shapes of the customers API (no logic here)."""

from django.core.validators import RegexValidator
from rest_framework import serializers

from common.api import NO_NUL, QuerySerializer, StrictCharField, money_field
from customers_service.customers.models import Customer, Reservation

ORDER_ID_PATTERN = r"[A-Za-z0-9_-]{1,64}"


class CustomerSerializer(serializers.ModelSerializer):
    """A customer with its credit; the owner comes from the token, never the body."""

    name = StrictCharField(max_length=200, validators=[NO_NUL])
    credit_limit = money_field()
    available_credit = serializers.DecimalField(
        max_digits=13, decimal_places=2, read_only=True
    )

    class Meta:
        model = Customer
        fields = [
            "id",
            "name",
            "credit_limit",
            "available_credit",
            "owner_sub",
            "owner_username",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["owner_sub", "owner_username"]


def order_id_field(**kwargs: object) -> StrictCharField:
    """Return the field of an order id: 1 to 64 letters, digits, '_' or '-'."""
    validator = RegexValidator(
        rf"\A{ORDER_ID_PATTERN}\Z", "Use letters, digits, '_' or '-'."
    )
    return StrictCharField(max_length=64, validators=[validator], **kwargs)


class ReservationSerializer(serializers.ModelSerializer):
    """A credit reservation; for whom and by whom come from the token only.

    ``sub`` and ``username`` are the user's it was made for, ``actor`` the
    service that made it (the token's ``act.sub``).
    """

    order_id = order_id_field()
    amount = money_field()

    class Meta:
        model = Reservation
        fields = [
            "order_id",
            "customer",
            "amount",
            "sub",
            "username",
            "actor",
            "created_at",
        ]
        read_only_fields = ["customer", "sub", "username", "actor"]


class ReservationFilterSerializer(QuerySerializer):
    """The list's query filter: ``?order_id=`` (only this order)."""

    order_id = order_id_field(required=False, help_text="only this order")
