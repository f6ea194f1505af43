from django.apps import AppConfig


class OrdersConfig(AppConfig):
    """Orders that reserve credit at the customers service."""

    name = "orders_service.orders"
    label = "orders"

    def ready(self) -> None:
        # Registers the bearer scheme with drf-spectacular.
        from common import schema  # noqa: F401
