"""URLs of the OAuth endpoints (the contract's "Machine clients", "Delegation")."""

from django.urls import path

from gateway_project.oauth import views

app_name = "oauth"

urlpatterns = [
    path("auth/oauth/token/", views.TokenView.as_view(), name="token"),
    path("auth/oauth/introspect/", views.IntrospectView.as_view(), name="introspect"),
    path("auth/oauth/revoke/", views.RevokeView.as_view(), name="revoke"),
    path(
        ".well-known/oauth-authorization-server",
        views.AuthorizationServerMetadataView.as_view(),
        name="metadata",
    ),
]
