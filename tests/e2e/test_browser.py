"""The browsable API through the gateway, in a real browser.

Playwright drives Debian's Chromium (``/usr/bin/chromium``, installed by
``make test``; Playwright's own browser builds are never downloaded). The user
logs in at the gateway, sees their orders rendered by DRF at the orders service,
and follows the "next" link the service built from ``X-Forwarded-Host``: it
must stay on the gateway. Screenshots land in ``$VAR_DIR/screenshots``.
"""

import os
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, Page

from devstack.stack import ROOT, Stack

SCREENSHOTS = Path(os.environ.get("VAR_DIR", ROOT / "var")) / "screenshots"
TIMEOUT = 10


@pytest.fixture
def page(browser: Browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def _two_orders(stack: Stack, username: str) -> list[dict]:
    """Create a customer and two orders for ``username``; return the orders."""
    gateway = stack.url("gateway")
    auth = {"Authorization": f"Bearer {stack.login(username)['access']}"}
    customer = requests.post(
        f"{gateway}/api/customers/",
        json={"name": f"{username} browser shop", "credit_limit": "500.00"},
        headers=auth,
        timeout=TIMEOUT,
    )
    customer.raise_for_status()
    orders = []
    for total in ("12.34", "56.78"):
        order = requests.post(
            f"{gateway}/api/orders/",
            json={"customer_id": customer.json()["id"], "total": total},
            headers=auth,
            timeout=TIMEOUT,
        )
        order.raise_for_status()
        orders.append(order.json())
    return orders


def _log_in(page: Page, gateway: str, username: str, password: str) -> None:
    page.goto(f"{gateway}/api-auth/login/?next=/api/orders/%3Fpage_size%3D1")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("#submit-id-submit")
    page.wait_for_url(f"{gateway}/api/orders/?page_size=1")


def test_orders_in_the_browsable_api_through_the_gateway(stack: Stack, page: Page):
    gateway = stack.url("gateway")
    newest = _two_orders(stack, "alice")[-1]

    _log_in(page, gateway, "alice", "alice-demo-pass")

    assert page.title().startswith("Order List")
    body = page.locator("#content").inner_text()
    assert newest["id"] in body  # the list is newest first, one per page
    assert '"owner_username": "alice"' in body
    assert "bob" not in body
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"orders-{stack.database}.png", full_page=True)

    # The service built this link from X-Forwarded-Host/-Proto: the gateway's.
    next_link = page.locator(f'.response-info a[href^="{gateway}/api/orders/?"]')
    assert next_link.count() >= 1
    next_link.first.click()
    page.wait_for_load_state()
    assert page.url.startswith(f"{gateway}/api/orders/?")
    assert "page=2" in page.url
    assert page.title().startswith("Order List")
    assert '"owner_username": "alice"' in page.locator("#content").inner_text()
    page.screenshot(
        path=SCREENSHOTS / f"orders-page-2-{stack.database}.png", full_page=True
    )


def test_an_order_posted_from_the_browsable_api_form(stack: Stack, page: Page):
    gateway = stack.url("gateway")
    customer_id = _two_orders(stack, "bob")[0]["customer_id"]
    _log_in(page, gateway, "bob", "bob-demo-pass")

    # DRF's HTML form carries the CSRF token the gateway checks for a session.
    form = page.locator("#post-object-form")
    form.locator("input[name=customer_id]").fill(str(customer_id))
    form.locator("input[name=total]").fill("9.99")
    form.locator("button", has_text="POST").click()
    page.wait_for_load_state()

    assert page.url.startswith(f"{gateway}/api/orders/")
    response = page.locator(".response-info").inner_text()
    assert "HTTP 201 Created" in response
    assert '"total": "9.99"' in response
    assert '"owner_username": "bob"' in response
