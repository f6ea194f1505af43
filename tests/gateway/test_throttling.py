"""Failed-login throttling at /auth/token/ and /admin/login/."""

import pytest
from django.core.cache import caches

from gateway_project.identity.throttling import LoginFailureThrottle

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(monkeypatch):
    """The throttles' clock, moved by hand: ``clock[0] += 61``."""
    now = [1_000_000.0]
    monkeypatch.setattr(LoginFailureThrottle, "timer", lambda self: now[0])
    return now


def fail(login, username: str, times: int, ip: str | None = None, **extra) -> None:
    for n in range(times):
        addr = ip or f"10.0.{n // 250}.{n % 250}"
        response = login(username, "wrong", REMOTE_ADDR=addr, **extra)
        assert response.status_code == 401, (n, response.content)


def assert_throttled(response) -> None:
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert response.json()["detail"].startswith("Request was throttled.")


def test_six_failures_for_one_username_are_throttled(alice, login, clock):
    fail(login, "alice", 5)
    # Even the right password, from a fresh address, while throttled.
    assert_throttled(login("alice", REMOTE_ADDR="192.0.2.99"))
    assert login("bob", "wrong", REMOTE_ADDR="192.0.2.99").status_code == 401


def test_the_username_counter_ignores_case(alice, login, clock):
    fail(login, "ALICE", 5)
    assert_throttled(login("alice", REMOTE_ADDR="192.0.2.99"))


def test_unknown_and_known_usernames_get_the_same_answers(alice, login, clock):
    answers = {}
    for username in ("alice", "no-such-user"):
        responses = [
            login(username, "wrong", REMOTE_ADDR=f"10.1.0.{n}") for n in range(7)
        ]
        answers[username] = [(r.status_code, r.json()) for r in responses]
    assert answers["alice"] == answers["no-such-user"]
    assert [status for status, _ in answers["alice"]] == [401] * 5 + [429] * 2


def test_the_window_is_one_minute(alice, login, clock):
    fail(login, "alice", 5)
    clock[0] += 61
    assert login("alice", REMOTE_ADDR="192.0.2.99").status_code == 200


def test_successful_logins_are_not_counted(alice, login, clock):
    for _ in range(10):
        assert login("alice", REMOTE_ADDR="192.0.2.1").status_code == 200
    fail(login, "alice", 5, ip="192.0.2.1")


def test_twenty_one_failures_from_one_address_are_throttled(alice, login, clock):
    for n in range(20):
        assert login(f"user{n}", "x", REMOTE_ADDR="192.0.2.7").status_code == 401
    assert_throttled(login("alice", REMOTE_ADDR="192.0.2.7"))
    assert login("alice", REMOTE_ADDR="192.0.2.8").status_code == 200


def test_a_made_up_x_forwarded_for_does_not_reset_the_address(alice, login, clock):
    for n in range(20):
        spoofed = {"HTTP_X_FORWARDED_FOR": f"203.0.113.{n}"}
        response = login(f"user{n}", "x", REMOTE_ADDR="192.0.2.7", **spoofed)
        assert response.status_code == 401
    spoofed = {"HTTP_X_FORWARDED_FOR": "203.0.113.200"}
    assert_throttled(login("alice", REMOTE_ADDR="192.0.2.7", **spoofed))


def test_behind_one_trusted_proxy_the_client_is_the_last_hop(
    alice, login, clock, settings
):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    proxy = "192.0.2.250"
    for n in range(20):
        xff = {"HTTP_X_FORWARDED_FOR": f"1.2.3.4, 198.51.100.{n % 2}"}
        login(f"user{n}", "x", REMOTE_ADDR=proxy, **xff)
    # 10 failures each for two clients behind the proxy: neither is throttled;
    # the spoofable first entry (1.2.3.4) is ignored.
    xff = {"HTTP_X_FORWARDED_FOR": "1.2.3.4, 198.51.100.0"}
    assert login("alice", REMOTE_ADDR=proxy, **xff).status_code == 200


def test_counters_live_in_the_shared_django_cache(alice, login, clock, settings):
    backend = settings.CACHES["login_throttle"]["BACKEND"]
    assert backend.endswith(("FileBasedCache", "RedisCache"))
    fail(login, "alice", 5)
    caches["login_throttle"].clear()
    assert login("alice", REMOTE_ADDR="192.0.2.99").status_code == 200


def test_malformed_logins_are_not_counted(alice, api, clock):
    for _ in range(10):
        response = api.post("/auth/token/", {"username": "alice"}, format="json")
        assert response.status_code == 400
    for body in ([], "x"):
        assert api.post("/auth/token/", body, format="json").status_code == 400


# -- the admin's login form ---------------------------------------------------
def admin_login(client, username: str, password: str, ip: str = "192.0.2.5"):
    return client.post(
        "/admin/login/",
        {"username": username, "password": password, "next": "/admin/"},
        REMOTE_ADDR=ip,
    )


def test_admin_login_failures_are_throttled_too(client, staff, clock):
    for n in range(5):
        response = admin_login(client, "sam", "wrong", ip=f"10.2.0.{n}")
        assert response.status_code == 200  # the form again, with an error
    response = admin_login(client, "sam", "correct-horse-battery")
    assert_throttled(response)
    clock[0] += 61
    assert admin_login(client, "sam", "correct-horse-battery").status_code == 302


def test_admin_and_api_failures_share_the_counters(client, staff, login, clock):
    for n in range(3):
        admin_login(client, "sam", "wrong", ip=f"10.3.0.{n}")
    fail(login, "sam", 2)
    assert_throttled(login("sam", REMOTE_ADDR="192.0.2.99"))


def test_the_browsable_api_login_form_is_throttled_too(client, staff, clock):
    form = {"username": "sam", "password": "wrong", "next": "/auth/me/"}
    for n in range(5):
        response = client.post("/api-auth/login/", form, REMOTE_ADDR=f"10.4.0.{n}")
        assert response.status_code == 200
    form["password"] = "correct-horse-battery"
    assert_throttled(client.post("/api-auth/login/", form))
    clock[0] += 61
    assert client.post("/api-auth/login/", form).status_code == 302


# -- the shared cache down (Redis outage) -------------------------------------
@pytest.fixture
def cache_down(settings):
    """The ``login_throttle`` cache failing on every call; fresh fallback counters."""
    from gateway_project.identity import throttling

    settings.CACHES = {
        **settings.CACHES,
        "login_throttle": {"BACKEND": "tests.shared_auth.broken_cache.BrokenCache"},
    }
    throttling._FALLBACK.clear()
    yield
    throttling._FALLBACK.clear()


def test_a_login_is_answered_while_the_shared_cache_is_down(alice, login, cache_down):
    assert login("alice", REMOTE_ADDR="192.0.2.1").status_code == 200
    assert login("alice", "wrong", REMOTE_ADDR="192.0.2.1").status_code == 401


def test_failures_are_still_throttled_while_the_shared_cache_is_down(
    alice, login, clock, cache_down
):
    fail(login, "alice", 5)
    assert_throttled(login("alice", REMOTE_ADDR="192.0.2.99"))
