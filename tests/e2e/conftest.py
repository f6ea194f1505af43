"""Fixtures starting real stacks; ``E2E_DATABASES`` picks the backends."""

import os

import pytest

from devstack.stack import Stack

BACKENDS = os.environ.get("E2E_DATABASES", "sqlite,postgres").split(",")


@pytest.fixture(scope="session", params=BACKENDS)
def stack(request, tmp_path_factory):
    """A running gateway, orders and customers, on SQLite or PostgreSQL."""
    running = Stack(tmp_path_factory.mktemp(f"stack-{request.param}"), request.param)
    try:
        yield running.setup()
    finally:
        running.close()


@pytest.fixture
def gateway(stack):
    return stack.url("gateway")
