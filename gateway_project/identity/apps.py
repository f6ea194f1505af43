from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "gateway_project.identity"
    label = "identity"
