"""Fixtures of the gateway suite: a fresh key directory, users, an API client."""

import shutil
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.core.cache import caches
from rest_framework.test import APIClient

from gateway_project.identity.keys import KeyStore

PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="session")
def _template_keys(tmp_path_factory) -> Path:
    """One RSA key made once per run (key generation is slow), copied per test."""
    directory = tmp_path_factory.mktemp("template-keys")
    KeyStore(directory).signing_key()
    return directory


@pytest.fixture(autouse=True)
def keys_dir(settings, tmp_path, _template_keys) -> Path:
    """Each test signs with its own copy of one key, in its own directory."""
    directory = tmp_path / "keys"
    shutil.copytree(_template_keys, directory)
    settings.JWT_SIGNING_KEYS_DIR = directory
    return directory


@pytest.fixture(autouse=True)
def _fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _private_revocations_cache(settings):
    """Keep the revocation revision in this process: parallel runs share VAR_DIR."""
    settings.CACHES = {
        **settings.CACHES,
        "revocations": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "revocations",
        },
    }
    caches["revocations"].clear()


@pytest.fixture(autouse=True)
def _empty_cache():
    """Throttle counters and the revocation revision start afresh in every test."""
    for alias in ("default", "login_throttle", "revocations"):
        caches[alias].clear()
    yield
    for alias in ("default", "login_throttle", "revocations"):
        caches[alias].clear()


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def alice(db) -> User:
    user = User.objects.create_user("alice", password=PASSWORD)
    user.groups.add(Group.objects.create(name="buyers"))
    return user


@pytest.fixture
def staff(db) -> User:
    return User.objects.create_user("sam", password=PASSWORD, is_staff=True)


@pytest.fixture
def login(api):
    """Return a function: ``login(username, password)`` -> the response."""

    def _login(username: str, password: str = PASSWORD, **extra):
        body = {"username": username, "password": password}
        return api.post("/auth/token/", body, format="json", **extra)

    return _login


@pytest.fixture
def tokens(alice, login) -> dict[str, str]:
    """alice's ``{access, refresh}``."""
    response = login("alice")
    assert response.status_code == 200, response.content
    return response.json()


# -- OAuth clients (gateway_project.oauth) ----------------------------------------
@pytest.fixture
def make_client(db):
    """Return a function: ``make_client(client_id, **options)`` -> (client, secret)."""
    from gateway_project.oauth.services import client_save

    def _make(client_id: str = "batch", **options):
        options.setdefault("scopes", ["orders:read"])
        return client_save(client_id=client_id, **options)

    return _make


@pytest.fixture
def orders_client(db, settings):
    """The orders service's client, as seed_demo provisions it; its secret."""
    from gateway_project.oauth.services import service_clients_provision

    settings.ORDERS_CLIENT_SECRET = "orders-test-secret"
    service_clients_provision()
    return settings.ORDERS_CLIENT_ID, settings.ORDERS_CLIENT_SECRET
