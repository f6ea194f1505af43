"""shared_auth's metrics: each one changes on the event it counts, and only then."""

import subprocess
import sys
import time

import pytest
from prometheus_client import REGISTRY

from shared_auth import metrics
from shared_auth.jwks import get_jwks_client
from shared_auth.revocation import RevocationClient
from tests.shared_auth.test_authentication import flip_signature_byte
from tests.shared_auth.test_revocation import Feed
from tests.support.clock import Clock
from tests.support.tokens import KID

REJECTIONS = "access_token_rejections_total"


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.fixture
def rejections():
    """Return a function giving how many rejections of a reason were added."""
    before = {r: value(REJECTIONS, reason=r) for r in metrics.REJECTION_REASONS}
    return lambda reason: value(REJECTIONS, reason=reason) - before[reason]


# -- rejections, through JWTAuthentication and a DRF view ------------------------------
@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda mk, ctx: mk(exp=int(time.time()) - 600), "expired"),
        (lambda mk, ctx: flip_signature_byte(mk()), "invalid_signature"),
        (lambda mk, ctx: mk(ctx.attacker_rsa_key), "invalid_signature"),
        (lambda mk, ctx: mk(headers={"kid": "nope"}), "unknown_key"),
        (lambda mk, ctx: mk(aud=["billing"]), "invalid_claims"),
        (lambda mk, ctx: mk(iss="https://evil.test"), "invalid_claims"),
        (lambda mk, ctx: mk(sub=None), "invalid_claims"),
        (lambda mk, ctx: "a.b.c", "malformed"),
        (lambda mk, ctx: f"{mk()} {mk()}", "malformed"),
        (lambda mk, ctx: mk(token_type="refresh"), "other"),
    ],
)
def test_each_refused_token_counts_once_under_its_reason(
    api, jwks_server, make_token, attacker_rsa_key, rejections, make, reason
):
    ctx = type("Ctx", (), {"attacker_rsa_key": attacker_rsa_key})
    response = api.get("/whoami/", HTTP_AUTHORIZATION=f"Bearer {make(make_token, ctx)}")
    assert response.status_code == 401
    assert rejections(reason) == 1
    others = [r for r in metrics.REJECTION_REASONS if r != reason]
    assert [rejections(r) for r in others] == [0] * len(others)


def test_a_valid_token_or_none_counts_nothing(api, jwks_server, make_token, rejections):
    assert api.get("/whoami/", **bearer(make_token())).status_code == 200
    assert api.get("/whoami/").status_code in (401, 403)
    assert [rejections(r) for r in metrics.REJECTION_REASONS] == [0] * len(
        metrics.REJECTION_REASONS
    )


def test_a_revoked_token_counts_as_revoked(
    api, server, jwks_server, make_token, settings, rejections
):
    feed = Feed(server, Clock(2_000_000.0))
    feed.clock.now = time.time()
    settings.SHARED_AUTH = {**settings.SHARED_AUTH, "REVOCATION_URL": feed.url}
    feed.entries = {"42": time.time()}
    token = make_token(sub="42", iat=time.time() - 60)
    assert api.get("/whoami/", **bearer(token)).status_code == 401
    assert rejections("revoked") == 1


def test_unknown_reasons_are_counted_as_other(rejections):
    metrics.record_rejection("insufficient_scope")
    metrics.record_rejection("user 42's own reason")
    assert rejections("insufficient_scope") == 1
    assert rejections("other") == 1
    assert value(REJECTIONS, reason="user 42's own reason") == 0


# -- the JWKS: fetches by outcome, when the held keys were fetched ---------------------
def fetches(name: str) -> dict[str, float]:
    return {o: value(name, outcome=o) for o in metrics.FETCH_OUTCOMES}


def test_jwks_fetches_by_outcome_and_the_keys_timestamp(jwks_server):
    name = "shared_auth_jwks_fetches_total"
    before = fetches(name)
    client = get_jwks_client()
    client.clock = lambda: 1_700_000_000.0
    client.get_signing_key(KID)
    assert fetches(name)["success"] - before["success"] == 1
    assert value("shared_auth_jwks_keys_fetched_timestamp_seconds") == 1_700_000_000.0

    jwks_server.routes["/jwks.json"] = (200, "application/json", '{"keys": []}')
    client.clock = lambda: 1_700_100_000.0
    client.get_signing_key(KID)  # expired: refetch, unusable, old keys kept
    assert fetches(name)["unusable"] - before["unusable"] == 1
    assert value("shared_auth_jwks_keys_fetched_timestamp_seconds") == 1_700_000_000.0

    jwks_server.routes["/jwks.json"] = (500, "application/json", "{}")
    client.clock = lambda: 1_700_200_000.0
    client.get_signing_key(KID)
    assert fetches(name)["error"] - before["error"] == 1


# -- the revocation list ---------------------------------------------------------------
def test_revocation_fetches_and_the_list_timestamp(server, settings):
    name = "shared_auth_revocation_fetches_total"
    clock = Clock()
    feed = Feed(server, clock)
    settings.SHARED_AUTH = {**settings.SHARED_AUTH, "REVOCATION_URL": feed.url}
    before = fetches(name)
    client = RevocationClient(feed.url, clock=clock)
    client.not_before("42")
    assert fetches(name)["success"] - before["success"] == 1
    assert value("shared_auth_revocation_list_fetched_timestamp_seconds") == clock.now

    feed.down = True
    clock.now += 3600
    client.not_before("42")
    assert fetches(name)["error"] - before["error"] == 1
    assert value("shared_auth_revocation_list_fetched_timestamp_seconds") == (
        clock.now - 3600
    )


# -- without prometheus_client ---------------------------------------------------------
def test_shared_auth_works_without_prometheus_client():
    code = """
import sys
sys.modules["prometheus_client"] = None  # import fails as if not installed
from shared_auth import metrics
assert metrics.REJECTIONS is None
metrics.record_rejection("expired")
metrics.record_jwks_fetch("success")
metrics.record_revocation_fetch("error")
metrics.set_jwks_fetched_at(1.0)
metrics.set_revocations_fetched_at(1.0)
print("ok")
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "ok", result.stderr


def test_a_missing_scope_counts_as_insufficient_scope(
    api, jwks_server, make_token, rejections
):
    allowed = api.get("/scoped/", **bearer(make_token(scope="orders:read")))
    assert allowed.status_code == 200
    assert rejections("insufficient_scope") == 0
    refused = api.get("/scoped/", **bearer(make_token(scope="customers:read")))
    assert refused.status_code == 403
    assert rejections("insufficient_scope") == 1
