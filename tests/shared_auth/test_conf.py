"""auth_settings: lazy, defaulted, validated, reloaded on change."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from shared_auth.conf import auth_settings


def test_defaults_and_project_settings(settings):
    settings.SHARED_AUTH = {"AUDIENCE": "orders"}
    settings.JWT_ISSUER = "https://gw.test"
    settings.JWT_JWKS_URL = "https://gw.test/jwks"
    assert auth_settings.AUDIENCE == "orders"
    assert auth_settings.ISSUER == "https://gw.test"
    assert auth_settings.JWKS_URL == "https://gw.test/jwks"
    assert "HS256" not in auth_settings.ALGORITHMS
    assert auth_settings.LEEWAY <= 30


def test_changes_take_effect(settings):
    settings.SHARED_AUTH = {"AUDIENCE": "a", "ISSUER": "https://x.test"}
    assert auth_settings.AUDIENCE == "a"
    settings.SHARED_AUTH = {"AUDIENCE": "b"}
    assert auth_settings.AUDIENCE == "b"
    assert auth_settings.ISSUER == settings.JWT_ISSUER


def test_missing_audience_is_an_error(settings):
    settings.SHARED_AUTH = {}
    for _ in range(2):  # not cached as valid after the first failure
        with pytest.raises(ImproperlyConfigured):
            auth_settings.AUDIENCE  # noqa: B018


@pytest.mark.parametrize("algorithms", [["HS256"], ["RS256", "none"], []])
def test_symmetric_or_no_algorithm_is_an_error(settings, algorithms):
    settings.SHARED_AUTH = {"AUDIENCE": "a", "ALGORITHMS": algorithms}
    with pytest.raises(ImproperlyConfigured):
        auth_settings.ALGORITHMS  # noqa: B018


def test_unknown_key_is_an_error():
    with pytest.raises(AttributeError):
        auth_settings.NOPE  # noqa: B018
