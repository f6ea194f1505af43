from django.apps import AppConfig


class CustomersConfig(AppConfig):
    """Customers and their credit reservations."""

    name = "customers_service.customers"
    label = "customers"

    def ready(self) -> None:
        # Registers the bearer scheme with drf-spectacular.
        from common import schema  # noqa: F401
