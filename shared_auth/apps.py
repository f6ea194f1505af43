from django.apps import AppConfig
from django.core import checks


class SharedAuthConfig(AppConfig):
    """The reusable app both services install (and the gateway, for verification)."""

    name = "shared_auth"
    verbose_name = "Shared JWT authentication"

    def ready(self) -> None:
        from shared_auth.checks import check_client_secret, check_revocation_token

        checks.register(check_revocation_token, checks.Tags.security, deploy=True)
        checks.register(check_client_secret, checks.Tags.security, deploy=True)
