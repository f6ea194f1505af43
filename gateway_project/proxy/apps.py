from django.apps import AppConfig
from django.core import checks


class ProxyConfig(AppConfig):
    """The reverse proxy to the services (/api/<service>/...)."""

    name = "gateway_project.proxy"
    label = "proxy"

    def ready(self) -> None:
        from gateway_project.proxy.checks import check_settings

        checks.register(check_settings)
