from django.apps import AppConfig


class OAuthConfig(AppConfig):
    """OAuth 2.0 for machine clients: the client registry and the token,
    introspection, revocation and metadata endpoints (docs/machine-clients.md)."""

    name = "gateway_project.oauth"
    label = "oauth"
    verbose_name = "OAuth clients"
