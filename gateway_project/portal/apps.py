from django.apps import AppConfig


class PortalConfig(AppConfig):
    """The developer portal: one OpenAPI document and Swagger UI at /api/docs/."""

    name = "gateway_project.portal"
    label = "portal"

    def ready(self) -> None:
        # The bearer scheme of shared_auth's (and the gateway's) authentication.
        from common import schema  # noqa: F401
