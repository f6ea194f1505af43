"""shared_auth.forwarded: forwarded host and scheme, from trusted proxies only."""

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

from shared_auth.forwarded import TrustedForwardedMiddleware

FORWARDED = {
    "HTTP_X_FORWARDED_HOST": "gateway.example:8000, inner",
    "HTTP_X_FORWARDED_PROTO": "https",
}


def seen(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"{request.build_absolute_uri('/api/orders/1/')}")


@pytest.fixture
def middleware(settings):
    settings.ALLOWED_HOSTS = ["gateway.example", "service.internal"]
    settings.TRUSTED_PROXIES = ["127.0.0.1", "::1", "10.0.0.0/8"]
    return TrustedForwardedMiddleware(seen)


@pytest.mark.parametrize("peer", ["127.0.0.1", "::1", "10.1.2.3"])
def test_a_trusted_proxy_sets_host_and_scheme(middleware, peer):
    request = RequestFactory().get(
        "/", REMOTE_ADDR=peer, HTTP_HOST="service.internal", **FORWARDED
    )
    response = middleware(request)
    assert response.content == b"https://gateway.example:8000/api/orders/1/"


@pytest.mark.parametrize("peer", ["192.0.2.1", "11.0.0.1", "", "not-an-ip"])
def test_anyone_else_gets_the_headers_removed(middleware, peer):
    request = RequestFactory().get(
        "/", REMOTE_ADDR=peer, HTTP_HOST="service.internal", **FORWARDED
    )
    response = middleware(request)
    assert response.content == b"http://service.internal/api/orders/1/"
    assert "HTTP_X_FORWARDED_HOST" not in request.META
    assert "HTTP_X_FORWARDED_PROTO" not in request.META


def test_an_unknown_scheme_is_ignored(middleware):
    request = RequestFactory().get(
        "/",
        REMOTE_ADDR="127.0.0.1",
        HTTP_HOST="service.internal",
        HTTP_X_FORWARDED_PROTO="javascript",
    )
    assert middleware(request).content == b"http://service.internal/api/orders/1/"


def test_nobody_is_trusted_without_the_setting(settings):
    settings.TRUSTED_PROXIES = []
    settings.ALLOWED_HOSTS = ["service.internal"]
    request = RequestFactory().get(
        "/", REMOTE_ADDR="127.0.0.1", HTTP_HOST="service.internal", **FORWARDED
    )
    response = TrustedForwardedMiddleware(seen)(request)
    assert response.content == b"http://service.internal/api/orders/1/"


def test_it_is_installed_first_after_the_request_id(settings):
    assert settings.MIDDLEWARE[1] == "shared_auth.forwarded.TrustedForwardedMiddleware"
