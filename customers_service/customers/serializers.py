"""Request and response shapes of the customers API (no logic here)."""

from django.core.validators import RegexValidator
from rest_framework import serializers

from common.api import money_field
from customers_service.customers.models import Customer, Reservation

ORDER_ID_PATTERN = r"[A-Za-z0-9_-]{1,64}"


class CustomerSerializer(serializers.ModelSerializer):
    """A customer with its credit; the owner comes from the token, never the body."""

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


class ReservationSerializer(serializers.ModelSerializer):
    """A credit reservation; for whom and by whom come from the token only.

    ``sub`` and ``username`` are the user's it was made for, ``actor`` the
    service that made it (the token's ``act.sub``).
    """

    order_id = serializers.CharField(
        max_length=64,
        validators=[
            RegexValidator(f"^{ORDER_ID_PATTERN}$", "Use letters, digits, '_' or '-'.")
        ],
    )
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
