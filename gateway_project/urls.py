"""URLs of the gateway."""

from django.urls import include, path

from common.urls import handler400, handler403, handler404, handler500  # noqa: F401
from common.urls import urlpatterns as common_urlpatterns
from gateway_project import health
from gateway_project.identity.views import admin_login, api_auth_login

urlpatterns = [
    # Before the common readyz (database only): the gateway's checks its upstreams.
    path("readyz", health.readyz, name="readyz"),
    # Before admin/ and api-auth/: the login forms, throttled like /auth/token/.
    path("admin/login/", admin_login, name="admin_login"),
    path("api-auth/login/", api_auth_login, name="api_auth_login"),
    *common_urlpatterns,
    path("", include("gateway_project.identity.urls")),
    path("", include("gateway_project.oauth.urls")),
    # Before the proxy's /api/ catch-all: /api/docs/ and /api/schema/.
    path("", include("gateway_project.portal.urls")),
    path("", include("gateway_project.proxy.urls")),
]
