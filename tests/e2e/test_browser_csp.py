"""The HTML pages under their Content-Security-Policy, in a real browser.

Chromium (``/usr/bin/chromium``, the ``browser`` fixture of conftest.py) loads
the admin (login and index), the browsable API through the gateway and each
service's Swagger UI (/api/docs/, its assets served by the service:
drf-spectacular-sidecar, no CDN). Every page must carry the policy, render, and
raise no CSP violation (``securitypolicyviolation`` events and the console's
"Refused to ..." errors) and no script error; Swagger UI must list the service's
operations.
"""

import pytest
from playwright.sync_api import Browser, Page, Response

from devstack.stack import PASSWORDS, Stack

LISTEN_FOR_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  const where = `${event.sourceFile}:${event.lineNumber}`;
  const what = `${event.violatedDirective} ${event.blockedURI}`;
  window.__cspViolations.push(`${what} ${where}`);
});
"""


class Watched:
    """A page with the CSP violations, console errors and script errors it had."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.console_errors: list[str] = []
        self.script_errors: list[str] = []
        page.add_init_script(LISTEN_FOR_VIOLATIONS)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.script_errors.append(str(error)))

    def _console(self, message) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    def goto(self, url: str) -> Response:
        response = self.page.goto(url)
        assert response is not None and response.ok, (url, response and response.status)
        assert "default-src 'self'" in response.headers["content-security-policy"]
        return response

    def assert_clean(self) -> None:
        self.page.wait_for_load_state("networkidle")
        violations = self.page.evaluate("window.__cspViolations")
        refused = [e for e in self.console_errors if "Content Security Policy" in e]
        assert violations == [], violations
        assert refused == [], refused
        assert self.script_errors == [], self.script_errors


@pytest.fixture
def watched(browser: Browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield Watched(page)
    context.close()


def test_the_admin_renders_under_the_policy(stack: Stack, watched: Watched):
    gateway = stack.url("gateway")
    watched.goto(f"{gateway}/admin/login/")
    assert watched.page.locator("#login-form").is_visible()
    watched.assert_clean()

    watched.page.fill("#id_username", "admin")
    watched.page.fill("#id_password", PASSWORDS["admin"])
    watched.page.click("input[type=submit]")
    watched.page.wait_for_url(f"{gateway}/admin/")
    assert watched.page.locator("#site-name").is_visible()
    assert watched.page.locator("#content-main").is_visible()
    watched.assert_clean()


def test_the_browsable_api_renders_under_the_policy(stack: Stack, watched: Watched):
    gateway = stack.url("gateway")
    watched.goto(f"{gateway}/api-auth/login/?next=/api/customers/")
    watched.assert_clean()
    watched.page.fill("#id_username", "alice")
    watched.page.fill("#id_password", PASSWORDS["alice"])
    watched.page.click("#submit-id-submit")
    watched.page.wait_for_url(f"{gateway}/api/customers/")
    assert watched.page.title().startswith("Customer List")
    assert watched.page.locator("#post-object-form").count() == 1
    watched.assert_clean()

    # DRF's own "Log out" link is an inline onclick, which the policy blocks.
    watched.page.click(".navbar .dropdown-toggle")
    watched.page.click("#logoutForm button")
    watched.page.wait_for_load_state()
    watched.assert_clean()
    assert watched.page.goto(f"{gateway}/api/customers/").status == 401


@pytest.mark.parametrize(("service", "operations"), [("orders", 4), ("customers", 10)])
def test_swagger_ui_shows_the_operations_under_the_policy(
    stack: Stack, watched: Watched, service: str, operations: int
):
    watched.goto(f"{stack.url(service)}/api/docs/")
    blocks = watched.page.locator(".opblock")
    blocks.first.wait_for()
    assert blocks.count() == operations
    paths = watched.page.locator(".opblock-summary-path").all_inner_texts()
    assert any(path.startswith(f"/api/{service}/") for path in paths)
    watched.assert_clean()
