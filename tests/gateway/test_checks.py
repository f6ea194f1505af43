"""The gateway's system checks: proxy.E001 and identity.E002-E004."""

from datetime import timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured

from gateway_project.identity import checks as identity_checks
from gateway_project.proxy.checks import check_settings
from gateway_project.proxy.upstreams import proxy_config

GOOD_ROUTES = {"/api/orders/": "http://127.0.0.1:8001"}


def ids(messages) -> list[str]:
    return [message.id for message in messages]


def test_the_project_settings_pass_every_check():
    assert check_settings() == []
    assert identity_checks.check_audience() == []
    assert identity_checks.check_lifetimes() == []
    assert identity_checks.check_jwks_max_age() == []


@pytest.mark.parametrize(
    "proxy",
    [
        {"ROUTES": {"api/orders/": "http://orders"}},
        {"ROUTES": {"/api/orders": "http://orders"}},
        {"ROUTES": {"/api/orders/": "orders:8001"}},
        {"ROUTES": {"/api/orders/": ""}},  # GATEWAY_PROXY_ROUTES=/api/orders/
        {"ROUTES": ["/api/orders/"]},
        {"ROUTES": GOOD_ROUTES, "READ_TIMEOUT": 0},
        {"ROUTES": GOOD_ROUTES, "CONNECT_TIMEOUT": -1.0},
        {"ROUTES": GOOD_ROUTES, "POOL_TIMEOUT": "3"},
        {"ROUTES": GOOD_ROUTES, "POOL_SIZE": 0},
        {"ROUTES": GOOD_ROUTES, "POOL_SIZE": 2.5},
        {"ROUTES": GOOD_ROUTES, "MAX_BODY_SIZE": True},
        {"ROUTES": GOOD_ROUTES, "READ_TIMOUT": 10},  # misspelt: would be ignored
    ],
)
def test_a_bad_proxy_setting_is_proxy_e001(settings, proxy):
    settings.GATEWAY_PROXY = proxy
    assert ids(check_settings()) == ["proxy.E001"]


def test_a_bad_route_is_refused_when_read_too(settings):
    settings.GATEWAY_PROXY = {"ROUTES": {"/api/orders/": "orders:8001"}}
    with pytest.raises(ImproperlyConfigured, match="not an http"):
        proxy_config()


def test_proxy_settings_follow_the_setting(settings):
    settings.GATEWAY_PROXY = {"ROUTES": GOOD_ROUTES, "READ_TIMEOUT": 7}
    assert proxy_config().upstreams[0].pool.endpoint.read_timeout == 7
    settings.GATEWAY_PROXY = {"ROUTES": GOOD_ROUTES}
    assert proxy_config().upstreams[0].pool.endpoint.read_timeout == 30.0


@pytest.mark.parametrize("audience", [[], [""], "orders", [1]])
def test_a_bad_audience_is_identity_e002(settings, audience):
    settings.JWT_AUDIENCE = audience
    assert ids(identity_checks.check_audience()) == ["identity.E002"]


@pytest.mark.parametrize(
    "changes",
    [
        {"ACCESS_TOKEN_LIFETIME": timedelta(0)},
        {"REFRESH_TOKEN_LIFETIME": timedelta(seconds=-1)},
        {"ACCESS_TOKEN_LIFETIME": 300},
        {"LEEWAY": -1},
        {"LEEWAY": "5"},
    ],
)
def test_bad_lifetimes_are_identity_e003(settings, changes):
    settings.SIMPLE_JWT = {**settings.SIMPLE_JWT, **changes}
    assert ids(identity_checks.check_lifetimes()) == ["identity.E003"]


def test_a_leeway_may_be_a_timedelta(settings):
    settings.SIMPLE_JWT = {**settings.SIMPLE_JWT, "LEEWAY": timedelta(seconds=5)}
    assert identity_checks.check_lifetimes() == []


@pytest.mark.parametrize("max_age", [-1, 1.5, "60"])
def test_a_bad_jwks_max_age_is_identity_e004(settings, max_age):
    settings.JWKS_MAX_AGE = max_age
    assert ids(identity_checks.check_jwks_max_age()) == ["identity.E004"]
