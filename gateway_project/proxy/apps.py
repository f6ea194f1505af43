from django.apps import AppConfig


class ProxyConfig(AppConfig):
    name = "gateway_project.proxy"
    label = "proxy"
