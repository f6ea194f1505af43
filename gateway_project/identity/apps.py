from django.apps import AppConfig
from django.conf import settings
from django.core import checks


class IdentityConfig(AppConfig):
    """Login, token issuing, signing keys and the JWKS of the gateway."""

    name = "gateway_project.identity"
    label = "identity"

    def ready(self) -> None:
        from gateway_project.identity import signals

        checks.register(check_signing_algorithm, checks.Tags.security)
        signals.connect()


def check_signing_algorithm(**kwargs: object) -> list[checks.CheckMessage]:
    """Refuse to start with a signing algorithm the key store cannot make."""
    from gateway_project.identity.keys import SUPPORTED_ALGORITHMS

    if settings.JWT_SIGNING_ALGORITHM in SUPPORTED_ALGORITHMS:
        return []
    return [
        checks.Error(
            f"JWT_SIGNING_ALGORITHM must be one of {', '.join(SUPPORTED_ALGORITHMS)}.",
            id="identity.E001",
        )
    ]
