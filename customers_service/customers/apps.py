from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "customers_service.customers"
    label = "customers"
