"""shared_auth.W001: ``check --deploy`` warns when the feed credential is not set."""

import pytest
from django.core import checks

from shared_auth.checks import (
    INSECURE_TOKEN_PREFIX,
    check_client_secret,
    check_revocation_token,
)

LOCAL = INSECURE_TOKEN_PREFIX + "made-by-this-process"


def ids(messages: list[checks.CheckMessage]) -> list[str]:
    return [message.id for message in messages]


@pytest.mark.parametrize("token", ["", LOCAL])
def test_warns_without_debug_when_the_credential_is_unset_or_local(settings, token):
    settings.DEBUG = False
    settings.REVOCATION_FEED_TOKEN = token
    (warning,) = check_revocation_token()
    assert warning.id == "shared_auth.W001"
    assert warning.level == checks.WARNING
    assert "REVOCATION_FEED_TOKEN" in warning.msg + warning.hint


def test_silent_when_the_credential_is_set(settings):
    settings.DEBUG = False
    settings.REVOCATION_FEED_TOKEN = "set-by-the-operator"
    assert check_revocation_token() == []


def test_silent_when_shared_auth_names_its_own_credential(settings):
    settings.DEBUG = False
    settings.REVOCATION_FEED_TOKEN = ""
    settings.SHARED_AUTH = {**settings.SHARED_AUTH, "REVOCATION_TOKEN": "own"}
    assert check_revocation_token() == []


@pytest.mark.parametrize("token", ["", LOCAL])
def test_silent_with_debug_on(settings, token):
    settings.DEBUG = True
    settings.REVOCATION_FEED_TOKEN = token
    assert check_revocation_token() == []


def test_registered_as_a_deployment_check_only(settings):
    settings.DEBUG = False
    settings.REVOCATION_FEED_TOKEN = ""
    assert "shared_auth.W001" in ids(checks.run_checks(include_deployment_checks=True))
    assert "shared_auth.W001" not in ids(checks.run_checks())


@pytest.mark.parametrize("secret", [None, "", LOCAL])
def test_w002_without_the_client_secret_of_an_exchanging_service(settings, secret):
    settings.DEBUG = False
    settings.SHARED_AUTH = {
        **settings.SHARED_AUTH,
        "CLIENT_ID": "orders",
        "CLIENT_SECRET": secret,
    }
    (warning,) = check_client_secret()
    assert warning.id == "shared_auth.W002"
    assert "shared_auth.W002" in ids(checks.run_checks(include_deployment_checks=True))
    assert "shared_auth.W002" not in ids(checks.run_checks())


def test_w002_silent_with_a_set_secret_no_client_or_debug(settings):
    settings.DEBUG = False
    settings.SHARED_AUTH = {**settings.SHARED_AUTH, "CLIENT_ID": None}
    assert check_client_secret() == []
    settings.SHARED_AUTH = {
        **settings.SHARED_AUTH,
        "CLIENT_ID": "orders",
        "CLIENT_SECRET": "set-by-the-operator",
    }
    assert check_client_secret() == []
    settings.SHARED_AUTH = {**settings.SHARED_AUTH, "CLIENT_SECRET": LOCAL}
    settings.DEBUG = True
    assert check_client_secret() == []
