"""The portal's two URLs, resolved before the proxy's ``/api/`` catch-all."""

from django.urls import path

from gateway_project.portal import views

urlpatterns = [
    path("api/schema/", views.schema, name="portal-schema"),
    path("api/docs/", views.PortalSwaggerView.as_view(), name="portal-docs"),
]
