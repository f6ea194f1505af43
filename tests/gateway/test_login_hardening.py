"""Issue 14 items 1 and 3: the login throttle cannot be dodged by spelling the
username differently, and every token response says ``Cache-Control: no-store``."""

import pytest

from gateway_project.identity.throttling import (
    LoginFailureThrottle,
    normalise_identifier,
)

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"
# Every one of these reaches the account "admin" at some login endpoint.
VARIANTS = [
    "admin",
    " admin",
    "ａｄｍｉｎ",
    "admin\t",
    "ADMIN",
    "\u3000admin",
    "Admin ",
]
ENDPOINTS = ["/auth/token/", "/admin/login/", "/api-auth/login/"]


@pytest.fixture
def clock(monkeypatch):
    now = [1_000_000.0]
    monkeypatch.setattr(LoginFailureThrottle, "timer", lambda self: now[0])
    return now


@pytest.fixture
def admin_user(django_user_model):
    return django_user_model.objects.create_superuser("admin", password=PASSWORD)


def attempt(client, endpoint: str, username: str, password: str, ip: str):
    if endpoint == "/auth/token/":
        body = {"username": username, "password": password}
        return client.post(
            endpoint, body, content_type="application/json", REMOTE_ADDR=ip
        )
    form = {"username": username, "password": password, "next": "/admin/"}
    return client.post(endpoint, form, REMOTE_ADDR=ip)


def test_every_spelling_normalises_to_one_identity():
    assert {normalise_identifier(v) for v in VARIANTS} == {"admin"}


def test_the_spellings_log_in_without_a_throttle(client, admin_user):
    # What the throttle must cover: each endpoint accepts some of these.
    assert (
        attempt(client, "/auth/token/", " admin", PASSWORD, "192.0.2.1").status_code
        == 200
    )
    for variant in ("ａｄｍｉｎ", "admin\t"):
        response = attempt(client, "/admin/login/", variant, PASSWORD, "192.0.2.1")
        assert response.status_code == 302, variant


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_after_five_failures_every_spelling_is_throttled(
    client, admin_user, clock, endpoint, variant
):
    for n in range(5):
        attempt(client, "/auth/token/", "admin", "wrong", f"10.5.0.{n}")
    response = attempt(client, endpoint, variant, PASSWORD, "192.0.2.77")
    assert response.status_code == 429, (endpoint, variant, response.status_code)
    assert int(response["Retry-After"]) > 0


@pytest.mark.parametrize("variant", VARIANTS)
def test_failures_under_any_spelling_count_for_the_account(
    client, admin_user, clock, variant
):
    for n in range(5):
        attempt(client, "/admin/login/", variant, "wrong", f"10.6.0.{n}")
    response = attempt(client, "/auth/token/", "admin", PASSWORD, "192.0.2.78")
    assert response.status_code == 429


# -- Cache-Control: no-store on token responses (RFC 6749 section 5.1) -----------
def assert_no_store(response) -> None:
    assert "no-store" in response["Cache-Control"], response.headers
    assert response["Pragma"] == "no-cache"


def test_login_refresh_and_me_are_never_cached(api, alice, login):
    response = login("alice")
    assert response.status_code == 200
    assert_no_store(response)
    tokens = response.json()
    refreshed = api.post(
        "/auth/token/refresh/", {"refresh": tokens["refresh"]}, format="json"
    )
    assert refreshed.status_code == 200
    assert_no_store(refreshed)
    me = api.get("/auth/me/", HTTP_AUTHORIZATION="Bearer " + tokens["access"])
    assert me.status_code == 200
    assert_no_store(me)


def test_refused_token_requests_are_never_cached_either(api, alice, login):
    assert_no_store(login("alice", "wrong"))
    assert_no_store(api.post("/auth/token/refresh/", {"refresh": "x"}, format="json"))
    assert_no_store(api.get("/auth/me/"))
