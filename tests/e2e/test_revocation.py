"""Revocation end to end: the gateway refuses at once, each service within 5 s.

An admin deactivates a user through the Django admin (a logged-in admin
session posting the change form), or the user logs out everywhere; the lag
until each service refuses the user's token is measured (polling every 50 ms)
and printed. With the gateway stopped, the services keep their last list.
"""

import base64
import json
import time
import uuid
from html.parser import HTMLParser

import pytest
import requests

from devstack.stack import Stack

TIMEOUT = 10
BOUND = 5.0  # seconds: the contract's bound (REVOCATION_INTERVAL is 2 s)
POLL = 0.05
SERVICES = {"orders": "/api/orders/", "customers": "/api/customers/"}
REVOKED = "Token has been revoked."


class FormFields(HTMLParser):
    """The fields of the admin's change form, as a browser would post them."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[tuple[str, str]] = []
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attr = dict(attrs)
        name = attr.get("name")
        if tag == "input" and name and "disabled" not in attr:
            kind = attr.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in attr:
                return
            if kind not in ("submit", "button", "file"):
                self.fields.append((name, attr.get("value") or ""))
        elif tag == "select":
            self._select = name
        elif tag == "option" and self._select and "selected" in attr:
            self.fields.append((self._select, attr.get("value") or ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None


def subject(token: str) -> str:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))[
        "sub"
    ]


def new_user(stack: Stack) -> tuple[str, str]:
    """Create a user of this test only (the demo users are shared); return it."""
    username, password = f"rev-{uuid.uuid4().hex[:8]}", "revocation-pass-1"
    stack.manage(
        "gateway",
        "shell",
        "-c",
        "from django.contrib.auth.models import User; "
        f"User.objects.create_user({username!r}, password={password!r})",
    )
    return username, password


def get(url: str, token: str) -> requests.Response:
    return requests.get(
        url, headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT
    )


def direct(stack: Stack, service: str) -> str:
    return stack.url(service) + SERVICES[service]


def via_gateway(stack: Stack, service: str) -> str:
    return stack.url("gateway") + SERVICES[service]


def assert_served_everywhere(stack: Stack, token: str) -> None:
    for service in SERVICES:
        assert get(direct(stack, service), token).status_code == 200, service
        assert get(via_gateway(stack, service), token).status_code == 200, service


def lag_until_refused(stack: Stack, token: str, since: float) -> dict[str, float]:
    """Poll each service every 50 ms; return the seconds from ``since`` to its 401."""
    lags: dict[str, float] = {}
    deadline = since + BOUND + 5
    while len(lags) < len(SERVICES) and time.monotonic() < deadline:
        for service in SERVICES.keys() - lags.keys():
            response = get(direct(stack, service), token)
            if response.status_code == 401:
                assert response.json()["detail"] == REVOKED
                lags[service] = time.monotonic() - since
            else:
                assert response.status_code == 200, response.text
        time.sleep(POLL)
    return lags


def report(stack: Stack, action: str, lags: dict[str, float]) -> None:
    for service, lag in sorted(lags.items()):
        print(f"\nrevocation lag [{stack.database}] {action} -> {service}: {lag:.3f} s")


def admin_session(stack: Stack) -> requests.Session:
    """Return a session logged in to the gateway's admin as the demo superuser."""
    gateway = stack.url("gateway")
    session = requests.Session()
    form = session.get(f"{gateway}/admin/login/", timeout=TIMEOUT)
    response = session.post(
        f"{gateway}/admin/login/",
        data={
            "username": "admin",
            "password": "admin-demo-pass",
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
            "next": "/admin/",
        },
        headers={"Referer": form.url},
        timeout=TIMEOUT,
    )
    assert response.url.endswith("/admin/"), response.text
    return session


def admin_deactivate(stack: Stack, session: requests.Session, user_id: str) -> None:
    """Untick "Active" on the user's change page and save, as an admin would."""
    url = f"{stack.url('gateway')}/admin/auth/user/{user_id}/change/"
    page = session.get(url, timeout=TIMEOUT)
    assert page.status_code == 200
    parser = FormFields()
    parser.feed(page.text)
    fields = [(name, value) for name, value in parser.fields if name != "is_active"]
    assert any(name == "username" for name, _ in fields)
    saved = session.post(
        url,
        data=[*fields, ("_save", "Save")],
        headers={"Referer": url},
        timeout=TIMEOUT,
        allow_redirects=False,
    )
    assert saved.status_code == 302, saved.text


def test_an_admin_deactivation_reaches_every_service_within_the_bound(stack):
    username, password = new_user(stack)
    token = stack.login(username, password)["access"]
    assert_served_everywhere(stack, token)
    session = admin_session(stack)

    admin_deactivate(stack, session, subject(token))
    done = time.monotonic()

    me = get(f"{stack.url('gateway')}/auth/me/", token)
    assert me.status_code == 401 and me.json()["detail"] == REVOKED
    for service in SERVICES:
        refused = get(via_gateway(stack, service), token)
        assert refused.status_code == 401, service
    lags = lag_until_refused(stack, token, done)
    report(stack, "admin deactivation", lags)
    assert set(lags) == set(SERVICES)
    assert max(lags.values()) <= BOUND


def test_logout_everywhere_reaches_every_service_and_a_new_login_works(stack):
    username, password = new_user(stack)
    tokens = stack.login(username, password)
    assert_served_everywhere(stack, tokens["access"])
    gateway = stack.url("gateway")

    response = requests.post(
        f"{gateway}/auth/logout/",
        json={"all": True},
        headers={"Authorization": f"Bearer {tokens['access']}"},
        timeout=TIMEOUT,
    )
    done = time.monotonic()
    assert response.status_code == 204

    assert get(f"{gateway}/auth/me/", tokens["access"]).status_code == 401
    refresh = requests.post(
        f"{gateway}/auth/token/refresh/",
        json={"refresh": tokens["refresh"]},
        timeout=TIMEOUT,
    )
    assert refresh.status_code == 401
    fresh = stack.login(username, password)["access"]  # often the same second
    assert_served_everywhere(stack, fresh)
    lags = lag_until_refused(stack, tokens["access"], done)
    report(stack, "logout everywhere", lags)
    assert set(lags) == set(SERVICES)
    assert max(lags.values()) <= BOUND
    assert_served_everywhere(stack, fresh)


def test_with_the_feed_down_services_keep_their_last_list(stack):
    revoked_user, revoked_password = new_user(stack)
    other_user, other_password = new_user(stack)
    revoked = stack.login(revoked_user, revoked_password)["access"]
    other = stack.login(other_user, other_password)["access"]
    response = requests.post(
        f"{stack.url('gateway')}/auth/logout/",
        json={"all": True},
        headers={"Authorization": f"Bearer {revoked}"},
        timeout=TIMEOUT,
    )
    assert response.status_code == 204
    assert set(lag_until_refused(stack, revoked, time.monotonic())) == set(SERVICES)
    offsets = {name: len(stack.log_path(name).read_text()) for name in SERVICES}

    stack.stop("gateway")
    try:
        for service in SERVICES:
            # Requests go on; the next refresh fails and is logged as a warning.
            wait_for_log_while_serving(stack, service, other, offsets[service])
            assert get(direct(stack, service), other).status_code == 200
            assert get(direct(stack, service), revoked).status_code == 401
    finally:
        stack.start("gateway")
    assert_served_everywhere(stack, other)


def wait_for_log_while_serving(
    stack: Stack, service: str, token: str, after: int
) -> None:
    """Send requests (each may trigger the refresh) until the warning is logged."""
    text = "Revocation feed"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        assert get(direct(stack, service), token).status_code == 200
        if text in stack.log_path(service).read_text()[after:]:
            return
        time.sleep(0.2)
    pytest.fail(f"{service} never logged {text!r}")
