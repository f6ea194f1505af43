"""The token exchanger: its cache, its bounds and its failures."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from shared_auth.exceptions import ServiceUnavailable
from shared_auth.exchange import TokenExchanger, get_exchanger
from tests.support.clock import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def exchanger(clock, token_endpoint) -> TokenExchanger:
    return TokenExchanger(clock=clock)


def test_a_burst_for_one_subject_costs_one_exchange(exchanger, token_endpoint):
    tokens = {
        exchanger.token_for("user-token", audience="customers") for _ in range(20)
    }
    assert tokens == {"xchg.customers.0"}
    assert exchanger.exchanges == 1
    assert len(token_endpoint.seen) == 1


def test_the_cache_is_per_subject_audience_and_scope(exchanger, token_endpoint):
    exchanger.token_for("a", audience="customers")
    exchanger.token_for("b", audience="customers")
    exchanger.token_for("a", audience="billing")
    exchanger.token_for("a", audience="customers", scope="customers:read")
    exchanger.token_for("a", audience="customers")
    assert exchanger.exchanges == 4


def test_a_token_is_exchanged_again_shortly_before_it_expires(
    exchanger, token_endpoint, clock
):
    exchanger.token_for("a", audience="customers")  # expires_in 300
    clock.now += 289  # 11 s left: margin is 10 s
    assert exchanger.token_for("a", audience="customers") == "xchg.customers.0"
    clock.now += 1.5
    assert exchanger.token_for("a", audience="customers") == "xchg.customers.1"
    assert exchanger.exchanges == 2


def test_a_token_too_short_lived_is_not_cached(exchanger, token_endpoint):
    token_endpoint.answer = lambda form: (
        200,
        {"access_token": "short", "token_type": "bearer", "expires_in": 5},
    )
    exchanger.token_for("a", audience="customers")
    exchanger.token_for("a", audience="customers")
    assert exchanger.exchanges == 2


def test_the_cache_is_bounded_least_recently_used_first(
    exchanger, token_endpoint, settings
):
    settings.SHARED_AUTH = {**settings.SHARED_AUTH, "EXCHANGE_CACHE_SIZE": 3}
    for subject in ("a", "b", "c"):
        exchanger.token_for(subject, audience="x")
    exchanger.token_for("a", audience="x")  # a is now the most recent
    exchanger.token_for("d", audience="x")  # b goes
    assert exchanger.exchanges == 4
    exchanger.token_for("a", audience="x")
    exchanger.token_for("c", audience="x")
    assert exchanger.exchanges == 4
    exchanger.token_for("b", audience="x")
    assert exchanger.exchanges == 5
    assert len(exchanger._tokens) == 3
    assert not any("a" == key for key in exchanger._tokens)  # digests only


def test_concurrent_misses_for_one_key_make_one_exchange(
    exchanger, token_endpoint, server
):
    arrived, release = threading.Event(), threading.Event()
    issue = token_endpoint.answer

    def slow(form):
        arrived.set()
        release.wait(5)
        return issue(form)

    token_endpoint.answer = slow
    with ThreadPoolExecutor(max_workers=6) as pool:
        futures = [
            pool.submit(exchanger.token_for, "a", audience="customers")
            for _ in range(6)
        ]
        assert arrived.wait(5)
        time.sleep(0.1)
        release.set()
        results = {future.result() for future in futures}
    assert results == {"xchg.customers.0"}
    assert len(token_endpoint.seen) == 1


@pytest.mark.parametrize(
    "body",
    [
        {"access_token": "t", "token_type": "mac", "expires_in": 60},
        {"access_token": "t", "token_type": "Bearer", "expires_in": "60"},
        {"access_token": "t", "token_type": "Bearer", "expires_in": 0},
        {"access_token": "t", "token_type": "Bearer", "expires_in": True},
        {"access_token": "", "token_type": "Bearer", "expires_in": 60},
        {"access_token": 7, "token_type": "Bearer", "expires_in": 60},
    ],
)
def test_unusable_answers_are_503(exchanger, token_endpoint, body):
    token_endpoint.answer = lambda form: (200, body)
    with pytest.raises(ServiceUnavailable) as caught:
        exchanger.token_for("a", audience="customers")
    assert caught.value.status_code == 503
    assert exchanger.exchanges == 0


def test_a_huge_answer_is_refused(exchanger, token_endpoint):
    token_endpoint.answer = lambda form: (
        200,
        {"access_token": "t" * 100_000, "token_type": "Bearer", "expires_in": 60},
    )
    with pytest.raises(ServiceUnavailable):
        exchanger.token_for("a", audience="customers")


def test_a_hanging_endpoint_times_out(exchanger, token_endpoint, server, settings):
    server.routes["/token/"] = "hang"
    settings.SHARED_AUTH = {**settings.SHARED_AUTH, "EXCHANGE_TIMEOUT": (0.5, 0.3)}
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable):
        exchanger.token_for("a", audience="customers")
    assert time.monotonic() - started < 2


def test_a_failure_is_not_cached(exchanger, token_endpoint):
    issue = token_endpoint.answer
    token_endpoint.answer = lambda form: (400, {"error": "invalid_grant"})
    with pytest.raises(ServiceUnavailable):
        exchanger.token_for("a", audience="customers")
    token_endpoint.answer = issue
    assert exchanger.token_for("a", audience="customers") == "xchg.customers.1"


def test_without_client_credentials_nothing_is_sent(token_endpoint, settings):
    settings.SHARED_AUTH = {**settings.SHARED_AUTH, "CLIENT_SECRET": None}
    with pytest.raises(ServiceUnavailable):
        get_exchanger().token_for("a", audience="customers")
    assert token_endpoint.seen == []


def test_token_url_defaults_to_the_issuers_oauth_endpoint(settings):
    from shared_auth.conf import auth_settings

    settings.SHARED_AUTH = {"AUDIENCE": "orders"}
    settings.JWT_ISSUER = "https://issuer.example/"
    assert auth_settings.TOKEN_URL == "https://issuer.example/auth/oauth/token/"


def test_the_process_exchanger_is_dropped_when_settings_change(settings):
    first = get_exchanger()
    assert get_exchanger() is first
    settings.SHARED_AUTH = {**settings.SHARED_AUTH, "CLIENT_ID": "other"}
    assert get_exchanger() is not first
