"""The services' API documentation routes: the OpenAPI schema and Swagger UI."""

from django.urls import URLPattern, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView


def api_docs_urlpatterns() -> list[URLPattern]:
    """Return a service's ``api/schema/`` (OpenAPI) and ``api/docs/`` (Swagger UI)."""
    return [
        path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
        # The split view serves its start-up script as a file: no inline script
        # (CSP).
        path(
            "api/docs/",
            SpectacularSwaggerSplitView.as_view(url_name="schema"),
            name="docs",
        ),
    ]
