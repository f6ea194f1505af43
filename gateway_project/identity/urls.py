"""URLs of login, tokens, identity and keys (the contract's "Gateway" table)."""

from django.urls import path

from gateway_project.identity import documents, feed, views

app_name = "identity"

urlpatterns = [
    path("auth/token/", views.LoginView.as_view(), name="token_obtain_pair"),
    path("auth/token/refresh/", views.RefreshView.as_view(), name="token_refresh"),
    path("auth/token/verify/", views.VerifyView.as_view(), name="token_verify"),
    path("auth/logout/", views.LogoutView.as_view(), name="logout"),
    path("auth/me/", views.MeView.as_view(), name="me"),
    path("auth/revocations/", feed.RevocationFeedView.as_view(), name="revocations"),
    path(".well-known/jwks.json", documents.JWKSView.as_view(), name="jwks"),
    path(
        ".well-known/openid-configuration",
        documents.OpenIDConfigurationView.as_view(),
        name="openid_configuration",
    ),
]
