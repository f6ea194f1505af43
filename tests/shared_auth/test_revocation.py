"""Revoked tokens: the revocation list client and JWTAuthentication's check."""

import json
import logging
import threading
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from shared_auth.revocation import (
    RevocationClient,
    RevocationsUnavailable,
    get_revocation_client,
)
from tests.support.clock import Clock

FEED_TOKEN = "test-feed-token"  # tests/shared_auth/settings.py
WARNING = "Revocation feed"


class Feed:
    """The gateway's feed, served by the local server: entries set by the test."""

    def __init__(self, server, clock: Clock) -> None:
        self.server = server
        self.clock = clock
        self.entries: dict[str, float] = {}
        self.tokens: dict[str, float] = {}  # jti -> exp, revoked one by one
        self.window = 310.0
        self.sinces: list[str | None] = []
        self.down = False
        server.routes["/revocations/"] = self.answer

    @property
    def url(self) -> str:
        return f"{self.server.url}/revocations/"

    @property
    def hits(self) -> int:
        return self.server.hits["/revocations/"]

    def answer(self, handler) -> tuple[int, str, str]:
        if self.down:
            return 500, "text/html", "<h1>Server Error</h1>"
        if handler.headers.get("Authorization") != f"Bearer {FEED_TOKEN}":
            return 401, "application/json", '{"detail": "no"}'
        since = parse_qs(urlsplit(handler.path).query).get("since", [None])[0]
        self.sinces.append(since)
        body = {
            "time": self.clock.now,
            "window": self.window,
            "revocations": [
                {"sub": sub, "not_before": nb} for sub, nb in self.entries.items()
            ],
            "tokens": [{"jti": jti, "exp": exp} for jti, exp in self.tokens.items()],
        }
        return 200, "application/json", json.dumps(body)


@pytest.fixture
def clock() -> Clock:
    return Clock(2_000_000.0)


@pytest.fixture
def feed(server, clock, settings) -> Feed:
    """The feed, and settings pointing shared_auth at it."""
    served = Feed(server, clock)
    settings.SHARED_AUTH = {**settings.SHARED_AUTH, "REVOCATION_URL": served.url}
    return served


@pytest.fixture
def client(feed, clock) -> RevocationClient:
    return RevocationClient(feed.url, clock=clock)


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


# -- the client ----------------------------------------------------------------
def test_the_feed_is_fetched_with_the_credential(client, feed, server):
    feed.entries = {"7": 1_999_990.5}
    assert client.not_before("7") == 1_999_990.5
    assert client.not_before("8") is None
    assert server.seen[0]["Authorization"] == f"Bearer {FEED_TOKEN}"


def test_at_most_one_fetch_per_interval_then_incremental(client, feed, clock):
    feed.entries = {"7": clock.now - 1}
    for _ in range(20):
        client.not_before("7")
    assert feed.hits == 1
    clock.now += 1.9
    client.not_before("7")
    assert feed.hits == 1
    first_time = clock.now - 1.9
    clock.now += 0.2  # the 2 s interval has passed
    feed.entries = {"8": clock.now - 0.1}  # only what changed since
    assert client.not_before("8") == clock.now - 0.1
    assert client.not_before("7") == first_time - 1  # kept from the first answer
    assert feed.hits == 2
    assert feed.sinces == [None, repr(first_time)]


def test_a_revoked_jti_is_refused_until_its_exp_then_forgotten(client, feed, clock):
    feed.tokens = {"j-1": clock.now + 100, "j-old": clock.now - 1}
    client.not_before("7")
    assert client.is_token_revoked("j-1")
    assert not client.is_token_revoked("j-2")
    assert not client.is_token_revoked(None)
    assert "j-old" not in client.current.tokens  # expired: never kept
    feed.tokens = {}  # the next answers list only what changed since
    clock.now += 50
    client.not_before("7")
    assert client.is_token_revoked("j-1")  # kept from the first answer
    clock.now += 51
    client.not_before("7")
    assert not client.is_token_revoked("j-1")
    assert client.current.tokens == {}  # forgotten once its exp passed


def test_replicas_share_revoked_jtis_through_the_cache(feed, clock):
    feed.tokens = {"j-1": clock.now + 100}
    RevocationClient(feed.url, clock=clock).not_before("7")
    replica = RevocationClient(feed.url, clock=clock)
    replica.not_before("7")
    assert replica.is_token_revoked("j-1")
    assert feed.hits == 1


@pytest.mark.parametrize(
    "tokens",
    [
        "not a list",
        [{"jti": 7, "exp": 1}],
        [{"jti": "", "exp": 1}],
        [{"jti": "j" * 256, "exp": 1}],
        [{"jti": "j", "exp": "soon"}],
        [{"jti": "j"}],
    ],
)
def test_an_unusable_tokens_list_keeps_the_last_list(client, feed, clock, tokens):
    feed.tokens = {"j-1": clock.now + 100}
    client.not_before("7")
    original = feed.answer

    def bad(handler):
        status, kind, body = original(handler)
        return status, kind, json.dumps({**json.loads(body), "tokens": tokens})

    feed.server.routes["/revocations/"] = bad
    clock.now += 3
    client.not_before("7")
    assert feed.hits == 2
    assert client.is_token_revoked("j-1")


def test_entries_older_than_the_window_are_dropped(client, feed, clock):
    feed.entries = {"old": clock.now - 311, "new": clock.now - 309}
    assert client.not_before("old") is None
    assert client.not_before("new") == clock.now - 309


def test_a_later_revocation_of_a_subject_wins(client, feed, clock):
    feed.entries = {"7": clock.now - 5}
    client.not_before("7")
    clock.now += 2
    feed.entries = {"7": clock.now - 1}
    assert client.not_before("7") == clock.now - 1


@pytest.mark.parametrize("failure", ["down", "credential"])
def test_a_failed_fetch_keeps_the_last_list_and_warns(
    client, feed, clock, caplog, settings, failure
):
    feed.entries = {"7": clock.now - 1}
    client.not_before("7")
    if failure == "down":
        feed.down = True
    else:
        settings.SHARED_AUTH = {**settings.SHARED_AUTH, "REVOCATION_TOKEN": "wrong"}
    clock.now += 60
    with caplog.at_level(logging.WARNING, logger="shared_auth.revocation"):
        assert client.not_before("7") == clock.now - 61
    assert WARNING in caplog.text and "1 subject(s), 60.0 s old" in caplog.text
    assert client.not_before("7") == clock.now - 61
    assert feed.hits == 2  # the failure counts as this interval's attempt


def test_an_unreachable_feed_from_the_start_lets_requests_through(
    clock, settings, caplog
):
    url = "http://127.0.0.1:9/revocations/"
    with caplog.at_level(logging.WARNING, logger="shared_auth.revocation"):
        assert RevocationClient(url, clock=clock).not_before("7") is None
    assert WARNING in caplog.text


@pytest.mark.parametrize(
    "body",
    [
        "<html>not json</html>",
        "[]",
        '{"time": 1, "window": 1}',
        '{"time": 1, "window": 1, "revocations": [{"sub": 7, "not_before": 1}]}',
        '{"time": "1", "window": 1, "revocations": []}',
        '{"time": 1, "window": 1, "revocations": [{"sub": "7", "not_before": NaN}]}',
    ],
)
def test_an_unusable_answer_keeps_the_last_list(client, feed, clock, server, body):
    feed.entries = {"7": clock.now - 1}
    client.not_before("7")
    server.routes["/revocations/"] = (200, "application/json", body)
    clock.now += 3
    assert client.not_before("7") == clock.now - 4


def test_fail_closed_refuses_once_the_list_is_too_old(client, feed, clock, settings):
    settings.SHARED_AUTH = {
        **settings.SHARED_AUTH,
        "REVOCATION_FAIL_CLOSED": True,
        "REVOCATION_MAX_AGE": 5,
    }
    client.not_before("7")
    feed.down = True
    clock.now += 4.9
    assert client.not_before("7") is None  # 4.9 s old: still within the bound
    clock.now += 0.2
    with pytest.raises(RevocationsUnavailable):
        client.not_before("7")
    feed.down = False
    clock.now += 2
    assert client.not_before("7") is None  # fetched again: serving again


def test_fail_closed_with_no_list_at_all(clock, settings):
    settings.SHARED_AUTH = {**settings.SHARED_AUTH, "REVOCATION_FAIL_CLOSED": True}
    with pytest.raises(RevocationsUnavailable):
        RevocationClient("http://127.0.0.1:9/r/", clock=clock).not_before("7")


def test_replicas_sharing_the_cache_share_one_fetch(feed, clock):
    feed.entries = {"7": clock.now - 1}
    first = RevocationClient(feed.url, clock=clock)
    second = RevocationClient(feed.url, clock=clock)
    assert first.not_before("7") == second.not_before("7") == clock.now - 1
    assert feed.hits == 1
    clock.now += 2.5
    first.not_before("7")
    second.not_before("7")
    assert feed.hits == 2


def test_while_one_thread_fetches_the_others_use_the_current_list(
    client, feed, clock, server
):
    feed.entries = {"7": clock.now - 1}
    client.not_before("7")
    arrived, release = threading.Event(), threading.Event()

    def slow(handler: Any) -> tuple[int, str, str]:
        arrived.set()
        release.wait(5)
        return feed.answer(handler)

    server.routes["/revocations/"] = slow
    clock.now += 3
    fetcher = threading.Thread(target=client.not_before, args=("7",))
    fetcher.start()
    assert arrived.wait(5)  # the fetcher's request is at the feed
    # The fetcher holds the refresh: this call neither waits nor fetches.
    assert client.not_before("7") == clock.now - 4
    assert server.hits["/revocations/"] == 2
    release.set()
    fetcher.join()


# -- through JWTAuthentication ------------------------------------------------
@pytest.fixture
def api_feed(feed, jwks_server) -> Feed:
    """The feed and the JWKS, for requests through the test views."""
    return feed


def assert_revoked(response) -> None:
    assert response.status_code == 401, response.content
    assert response.json() == {"detail": "Token has been revoked."}
    challenge = response["WWW-Authenticate"]
    assert 'error="invalid_token"' in challenge
    assert "revoked" in challenge


def test_a_token_issued_before_the_revocation_is_refused(api, api_feed, make_token):
    now = time.time()
    api_feed.entries = {"42": now}
    assert_revoked(api.get("/whoami/", **bearer(make_token(sub="42", iat=now - 60))))
    after = make_token(sub="42", iat=now + 0.001)
    assert api.get("/whoami/", **bearer(after)).status_code == 200
    other = make_token(sub="43", iat=now - 60)
    assert api.get("/whoami/", **bearer(other)).status_code == 200


def test_same_second_before_and_after_are_told_apart(api, api_feed, make_token):
    second = float(int(time.time()))
    api_feed.entries = {"42": second + 0.5}
    before = make_token(sub="42", iat=second + 0.2)
    at = make_token(sub="42", iat=second + 0.5)
    after = make_token(sub="42", iat=second + 0.8)
    assert_revoked(api.get("/whoami/", **bearer(before)))
    assert_revoked(api.get("/whoami/", **bearer(at)))
    assert api.get("/whoami/", **bearer(after)).status_code == 200


def test_a_token_revoked_by_jti_is_refused_and_others_of_its_subject_are_not(
    api, api_feed, make_token
):
    revoked = make_token(sub="42", jti="revoked-jti")
    api_feed.tokens = {"revoked-jti": time.time() + 300}
    assert_revoked(api.get("/whoami/", **bearer(revoked)))
    sibling = make_token(sub="42", jti="other-jti")
    assert api.get("/whoami/", **bearer(sibling)).status_code == 200


@pytest.mark.django_db
def test_jti_check_costs_no_query_and_no_fetch(
    api, api_feed, make_token, django_assert_num_queries
):
    api_feed.tokens = {f"j-{n}": time.time() + 300 for n in range(1000)}
    header = bearer(make_token(jti="j-1000"))
    api.get("/whoami/", **header)
    with django_assert_num_queries(0):
        for _ in range(5):
            assert api.get("/whoami/", **header).status_code == 200
        assert_revoked(api.get("/whoami/", **bearer(make_token(jti="j-5"))))
    assert api_feed.hits == 1


def test_fail_closed_answers_503_json(api, feed, jwks_server, make_token, settings):
    settings.SHARED_AUTH = {
        **settings.SHARED_AUTH,
        "REVOCATION_FAIL_CLOSED": True,
        "REVOCATION_URL": "http://127.0.0.1:9/revocations/",
    }
    response = api.get("/whoami/", **bearer(make_token()))
    assert response.status_code == 503
    assert set(response.json()) == {"detail"}
    assert "revocation" in response.json()["detail"]


@pytest.mark.django_db
def test_zero_queries_and_one_fetch_across_requests(
    api, api_feed, make_token, django_assert_num_queries
):
    api_feed.entries = {"1": time.time()}
    header = bearer(make_token(sub="42"))
    api.get("/whoami/", **header)  # keys and revocations fetched
    with django_assert_num_queries(0):
        for _ in range(5):
            assert api.get("/whoami/", **header).status_code == 200
    assert api_feed.hits == 1


def test_the_process_client_follows_the_setting(feed, settings):
    assert get_revocation_client().url == feed.url
    settings.SHARED_AUTH = {
        key: value
        for key, value in settings.SHARED_AUTH.items()
        if key != "REVOCATION_URL"
    }
    settings.REVOCATION_FEED_URL = None
    settings.JWT_ISSUER = "https://issuer.test/"
    assert get_revocation_client().url == "https://issuer.test/auth/revocations/"
