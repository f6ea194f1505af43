"""Fixtures of the customers suite: token users and authenticated API clients."""

from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from shared_auth.user import TokenUser
from tests.support.tokens import delegated, token_user


@pytest.fixture
def alice() -> TokenUser:
    return token_user("1", "alice")


@pytest.fixture
def bob() -> TokenUser:
    return token_user("2", "bob")


@pytest.fixture
def staff() -> TokenUser:
    return token_user("3", "admin", "staff")


@pytest.fixture
def client_for() -> Callable[[TokenUser], APIClient]:
    """Return a factory of API clients authenticated as a given user."""

    def make(user: TokenUser) -> APIClient:
        client = APIClient()
        client.force_authenticate(user=user)
        return client

    return make


@pytest.fixture
def as_alice(client_for, alice) -> APIClient:
    return client_for(alice)


@pytest.fixture
def as_bob(client_for, bob) -> APIClient:
    return client_for(bob)


@pytest.fixture
def as_staff(client_for, staff) -> APIClient:
    return client_for(staff)


@pytest.fixture
def orders_for_alice(client_for, alice) -> APIClient:
    """The orders service, acting for alice (her token, exchanged)."""
    return client_for(delegated(alice))


@pytest.fixture
def orders_for_bob(client_for, bob) -> APIClient:
    return client_for(delegated(bob))


@pytest.fixture
def orders_for_staff(client_for, staff) -> APIClient:
    return client_for(delegated(staff))
