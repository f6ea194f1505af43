from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders_service.orders"
    label = "orders"
