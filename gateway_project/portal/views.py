"""The portal: the merged OpenAPI document and Swagger UI over it.

Both are public (they describe the API; every call still needs a token at the
gateway). Swagger UI's assets are served by the gateway (drf-spectacular-sidecar)
and its script comes from a URL of its own (no inline script), and "Try it out"
calls the gateway's own paths.
"""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_safe
from drf_spectacular.views import SpectacularSwaggerSplitView
from rest_framework.permissions import AllowAny

from gateway_project.portal.schema import portal_document


@require_safe
def schema(request: HttpRequest) -> JsonResponse:
    """Return the merged OpenAPI document (JSON)."""
    response = JsonResponse(portal_document())
    response["Cache-Control"] = "no-cache"
    return response


class PortalSwaggerView(SpectacularSwaggerSplitView):
    """Swagger UI over ``/api/schema/``; no credentials needed to read it."""

    authentication_classes = []
    permission_classes = [AllowAny]
    url_name = "portal-schema"
    title = "API portal"
