"""Request and response shapes of the orders API (no logic here)."""

from rest_framework import serializers

from common.api import QuerySerializer, StrictIntegerField, money_field
from orders_service.orders.models import Order

MAX_ID = 2**63 - 1


class OrderSerializer(serializers.ModelSerializer):
    """An order; owner and state come from the server, never from the body."""

    customer_id = StrictIntegerField(min_value=1, max_value=MAX_ID)
    total = money_field()

    class Meta:
        model = Order
        fields = [
            "id",
            "customer_id",
            "total",
            "state",
            "owner_sub",
            "owner_username",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["state", "owner_sub", "owner_username"]


class OrderFilterSerializer(QuerySerializer):
    """The list's query filters: ``?customer_id=`` and ``?state=``."""

    customer_id = StrictIntegerField(min_value=1, max_value=MAX_ID, required=False)
    state = serializers.ChoiceField(choices=Order.State.choices, required=False)


class IdempotencyKeyHeader(serializers.Serializer):
    """The optional ``Idempotency-Key`` header: 1 to 255 visible ASCII characters."""

    name = "Idempotency-Key"

    def get_fields(self) -> dict[str, serializers.Field]:
        return {
            self.name: serializers.RegexField(
                r"\A[\x21-\x7e]{1,255}\Z",
                required=False,
                error_messages={"invalid": "Use 1 to 255 visible ASCII characters."},
            )
        }
