from django.apps import AppConfig


class ScaffoldConfig(AppConfig):
    """``manage.py startservice``: a new DRF service in the monorepo."""

    name = "gateway_project.scaffold"
    label = "scaffold"
