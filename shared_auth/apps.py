from django.apps import AppConfig


class SharedAuthConfig(AppConfig):
    """The reusable app both services install (and the gateway, for verification)."""

    name = "shared_auth"
    verbose_name = "Shared JWT authentication"
