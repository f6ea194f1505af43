from django.apps import AppConfig
from django.core import checks


class IdentityConfig(AppConfig):
    """Login, token issuing, signing keys and the JWKS of the gateway."""

    name = "gateway_project.identity"
    label = "identity"

    def ready(self) -> None:
        from gateway_project.identity import checks as identity_checks
        from gateway_project.identity import signals

        checks.register(identity_checks.check_signing_algorithm, checks.Tags.security)
        checks.register(identity_checks.check_audience, checks.Tags.security)
        checks.register(identity_checks.check_lifetimes, checks.Tags.security)
        checks.register(identity_checks.check_jwks_max_age)
        signals.connect()
