"""Fixtures starting real stacks (``E2E_DATABASES`` picks the backends) and the
headless Chromium of the browser tests."""

import os

import pytest
from playwright.sync_api import sync_playwright

from devstack.stack import Stack

BACKENDS = os.environ.get("E2E_DATABASES", "sqlite,postgres").split(",")
# Debian's Chromium, installed by ``make test`` (Playwright's own browser builds
# are never downloaded).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


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


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True
        )
        yield chromium
        chromium.close()
