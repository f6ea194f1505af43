"""Fixtures of the orders suite: token users, API clients, the customers stub."""

from collections.abc import Callable, Iterator

import pytest
from rest_framework.test import APIClient

from shared_auth.exchange import reset_exchanger
from tests.orders.customers_stub import CLIENT, TOKEN_PATH, CustomersStub, start
from tests.support.tokens import token_user

USERS = {
    "alice": token_user("1", "alice"),
    "bob": token_user("2", "bob"),
    "staff": token_user("3", "admin", "staff"),
}


@pytest.fixture(scope="session")
def _stub_server() -> Iterator[CustomersStub]:
    stub = CustomersStub()
    server = start(stub)
    yield stub
    stub.release_hung.set()
    server.shutdown()


@pytest.fixture
def customers_stub(_stub_server, settings) -> Iterator[CustomersStub]:
    """The customers stand-in, emptied, with alice's #1 (limit 100) and bob's #2.

    It is the token endpoint too; this service's client credentials are set.
    """
    _stub_server.reset()
    _stub_server.add_customer(1, "1", "100.00")
    _stub_server.add_customer(2, "2", "100.00")
    settings.CUSTOMERS_SERVICE_URL = _stub_server.url
    settings.SHARED_AUTH = {
        **settings.SHARED_AUTH,
        "TOKEN_URL": f"{_stub_server.url}{TOKEN_PATH}",
        "CLIENT_ID": CLIENT[0],
        "CLIENT_SECRET": CLIENT[1],
    }
    yield _stub_server
    _stub_server.release_hung.set()


@pytest.fixture(autouse=True)
def _fresh_exchanges():
    """No exchanged token survives from one test to the next."""
    reset_exchanger()
    yield
    reset_exchanger()


@pytest.fixture
def client_for() -> Callable[[str], APIClient]:
    """Return a factory of API clients for a user, carrying that user's token.

    The user is forced (no JWKS here); the ``Authorization`` header is what
    the orders service must pass on to the customers service.
    """

    def make(name: str) -> APIClient:
        client = APIClient()
        client.force_authenticate(user=USERS[name])
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {name}-token")
        return client

    return make


@pytest.fixture
def as_alice(client_for) -> APIClient:
    return client_for("alice")


@pytest.fixture
def as_bob(client_for) -> APIClient:
    return client_for("bob")


@pytest.fixture
def as_staff(client_for) -> APIClient:
    return client_for("staff")
