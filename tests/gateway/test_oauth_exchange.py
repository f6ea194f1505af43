"""Token exchange at POST /auth/oauth/token/ (RFC 8693): who may exchange what,
the issued token's claims, the ``act`` chain and every refusal."""

import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from gateway_project.identity.services import (
    access_token_revoke,
    subject_tokens_revoke,
)
from gateway_project.identity.tokens import token_backend
from tests.gateway.oauth_support import (
    ACCESS_TYPE,
    EXCHANGE,
    TOKEN_URL,
    assert_error,
    basic,
    decode,
    header,
    post_form,
)
from tests.support.tokens import gateway_claims, gateway_signed

pytestmark = pytest.mark.django_db


@pytest.fixture
def exchange(api, orders_client):
    """Return a function: ``exchange(subject_token, **params)`` -> the response,
    as the orders service asks (HTTP Basic)."""

    def _exchange(subject_token: str, credentials=orders_client, **params):
        data = {
            "grant_type": EXCHANGE,
            "subject_token": subject_token,
            "subject_token_type": ACCESS_TYPE,
            "audience": "customers",
            **params,
        }
        return post_form(api, TOKEN_URL, data, **basic(*credentials))

    return _exchange


def cc_token(api, client_id: str, secret: str, **params) -> str:
    data = {"grant_type": "client_credentials", **params}
    response = post_form(api, TOKEN_URL, data, **basic(client_id, secret))
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


def test_orders_exchanges_a_users_token_for_customers(exchange, tokens, alice):
    subject = decode(tokens["access"])
    response = exchange(tokens["access"])
    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["issued_token_type"] == ACCESS_TYPE
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "customers:read reservations:write"
    assert 0 < body["expires_in"] <= 300
    assert header(body["access_token"])["typ"] == "at+jwt"
    claims = decode(body["access_token"], audience="customers")
    assert claims["sub"] == str(alice.pk) == subject["sub"]
    assert claims["username"] == "alice" and claims["roles"] == ["buyers"]
    assert claims["client_id"] == "orders"
    assert claims["aud"] == ["customers"]
    assert claims["scope"] == "customers:read reservations:write"
    assert claims["act"] == {"sub": "orders"}
    assert claims["exp"] <= subject["exp"]
    assert claims["jti"] != subject["jti"]
    with pytest.raises(jwt.InvalidAudienceError):
        decode(body["access_token"], audience="orders")


def test_the_login_token_has_the_rfc_9068_profile(tokens, settings):
    assert header(tokens["access"])["typ"] == "at+jwt"
    claims = decode(tokens["access"])
    assert claims["client_id"] == "gateway"
    assert claims["scope"] == "orders:read orders:write customers:read customers:write"
    assert claims["token_type"] == "access"
    assert header(tokens["refresh"]).get("typ") != "at+jwt"


def test_a_narrower_scope_can_be_asked_for(exchange, tokens):
    body = exchange(tokens["access"], scope="customers:read").json()
    assert body["scope"] == "customers:read"


@pytest.mark.parametrize(
    "scope", ["customers:write", "orders:read", "customers:read customers:write"]
)
def test_a_scope_the_client_may_not_delegate_is_invalid_scope(exchange, tokens, scope):
    assert_error(exchange(tokens["access"], scope=scope), 400, "invalid_scope")


def test_a_scope_the_subject_lacks_is_invalid_scope(api, exchange, make_client):
    # A machine token with orders:read only: nothing orders may delegate.
    _, secret = make_client("reader", scopes=["orders:read"], audiences=["orders"])
    subject = cc_token(api, "reader", secret)
    assert_error(exchange(subject), 400, "invalid_scope")
    response = exchange(subject, scope="reservations:write")
    assert_error(response, 400, "invalid_scope")


@pytest.mark.parametrize("audience", ["orders", "gateway", "customers orders"])
def test_an_audience_the_client_may_not_exchange_for_is_invalid_target(
    exchange, tokens, audience
):
    assert_error(exchange(tokens["access"], audience=audience), 400, "invalid_target")


def test_the_audience_is_required(exchange, tokens):
    assert_error(exchange(tokens["access"], audience=""), 400, "invalid_request")


def test_a_client_not_allowed_to_exchange_is_unauthorized_client(
    exchange, tokens, make_client
):
    _, secret = make_client("batch")
    response = exchange(tokens["access"], credentials=("batch", secret))
    assert_error(response, 400, "unauthorized_client")


def test_a_refresh_token_as_subject_is_invalid_grant(exchange, tokens):
    assert_error(exchange(tokens["refresh"]), 400, "invalid_grant")


def test_a_refresh_token_declared_as_such_is_invalid_request(exchange, tokens):
    refresh_type = "urn:ietf:params:oauth:token-type:refresh_token"
    response = exchange(tokens["refresh"], subject_token_type=refresh_type)
    assert_error(response, 400, "invalid_request")


@pytest.mark.parametrize(
    "params",
    [
        {"subject_token_type": ""},
        {"subject_token_type": "urn:ietf:params:oauth:token-type:jwt"},
        {"requested_token_type": "urn:ietf:params:oauth:token-type:id_token"},
        {"actor_token": "x", "actor_token_type": ACCESS_TYPE},
    ],
)
def test_unsupported_exchange_parameters_are_invalid_request(exchange, tokens, params):
    assert_error(exchange(tokens["access"], **params), 400, "invalid_request")


def test_a_missing_subject_token_is_invalid_request(exchange):
    assert_error(exchange(""), 400, "invalid_request")


def test_an_oversized_subject_token_is_invalid_request(exchange):
    assert_error(exchange("a.b." + "c" * 10_000), 400, "invalid_request")


@pytest.fixture
def subject_claims(alice, settings):
    return gateway_claims(
        aud=["orders", "customers"],
        sub=str(alice.pk),
        roles=[],
        scope=settings.LOGIN_SCOPE,
        exp=int(time.time()) + 120,
        jti="subject-jti",
    )


def test_a_forged_subject_token_is_invalid_grant(exchange, subject_claims):
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert_error(
        exchange(gateway_signed(subject_claims, key=other_key)), 400, "invalid_grant"
    )
    unsigned = jwt.encode(subject_claims, None, algorithm="none")
    assert_error(exchange(unsigned), 400, "invalid_grant")
    assert_error(exchange("not-a-token"), 400, "invalid_grant")


def test_another_issuers_subject_token_is_invalid_grant(exchange, subject_claims):
    claims = {**subject_claims, "iss": "https://evil.example"}
    assert_error(exchange(gateway_signed(claims)), 400, "invalid_grant")


def test_an_expired_subject_token_is_invalid_grant(exchange, subject_claims):
    claims = {**subject_claims, "iat": time.time() - 600, "exp": int(time.time()) - 60}
    assert_error(exchange(gateway_signed(claims)), 400, "invalid_grant")


def test_a_subject_token_without_the_at_jwt_typ_is_invalid_grant(
    exchange, subject_claims
):
    assert exchange(gateway_signed(subject_claims)).status_code == 200
    assert_error(
        exchange(gateway_signed(subject_claims, typ="JWT")), 400, "invalid_grant"
    )


def test_a_revoked_subject_is_invalid_grant(exchange, tokens, alice):
    subject_tokens_revoke(user=alice)
    assert_error(exchange(tokens["access"]), 400, "invalid_grant")


def test_a_subject_token_revoked_by_its_jti_is_invalid_grant(exchange, tokens):
    claims = decode(tokens["access"])
    access_token_revoke(jti=claims["jti"], exp=claims["exp"])
    assert_error(exchange(tokens["access"]), 400, "invalid_grant")


def test_the_exchanged_token_never_outlives_the_subject(exchange, subject_claims):
    claims = {**subject_claims, "exp": int(time.time()) + 30}
    body = exchange(gateway_signed(claims)).json()
    assert decode(body["access_token"], audience="customers")["exp"] == claims["exp"]
    assert body["expires_in"] <= 31


def test_a_client_cannot_exchange_its_own_token(api, make_client, exchange):
    _, secret = make_client(
        "relay",
        scopes=["customers:read"],
        may_exchange=True,
        exchange_audiences=["customers"],
        exchange_scopes=["customers:read"],
    )
    own = cc_token(api, "relay", secret)
    response = exchange(own, credentials=("relay", secret))
    assert_error(response, 400, "invalid_grant")


def test_another_clients_machine_token_can_be_exchanged(api, make_client, exchange):
    _, secret = make_client(
        "nightly", scopes=["orders:write", "customers:read"], audiences=None
    )
    body = exchange(cc_token(api, "nightly", secret)).json()
    claims = decode(body["access_token"], audience="customers")
    assert claims["sub"] == "nightly" and "username" not in claims
    assert claims["act"] == {"sub": "orders"}
    assert claims["scope"] == "customers:read reservations:write"


def test_two_exchanges_nest_act(api, exchange, make_client, tokens):
    _, secret = make_client(
        "ledger",
        scopes=[],
        may_exchange=True,
        exchange_audiences=["orders"],
        exchange_scopes=["customers:read"],
    )
    first = exchange(tokens["access"]).json()["access_token"]
    response = exchange(first, credentials=("ledger", secret), audience="orders")
    assert response.status_code == 200, response.content
    claims = decode(response.json()["access_token"], audience="orders")
    assert claims["act"] == {"sub": "ledger", "act": {"sub": "orders"}}
    assert claims["username"] == "alice"
    assert claims["scope"] == "customers:read"
    assert claims["exp"] <= decode(first, audience="customers")["exp"]


def test_an_exchanged_token_cannot_be_widened_by_exchanging_again(exchange, tokens):
    first = exchange(tokens["access"], scope="customers:read").json()["access_token"]
    # reservations:write is neither held nor implied by customers:read.
    response = exchange(first, scope="reservations:write")
    assert_error(response, 400, "invalid_scope")
    assert_error(exchange(first, audience="orders"), 400, "invalid_target")
    assert_error(exchange(first, scope="customers:write"), 400, "invalid_scope")


def test_a_deactivated_exchanging_client_is_refused(exchange, tokens):
    from gateway_project.oauth.models import Client
    from gateway_project.oauth.services import client_deactivate

    client_deactivate(client=Client.objects.get(client_id="orders"))
    assert_error(exchange(tokens["access"]), 401, "invalid_client")


def test_the_gateway_backend_signs_refresh_tokens_without_at_jwt():
    token = token_backend().encode({"token_type": "refresh", "sub": "1"})
    assert header(token)["typ"] == "JWT"


def test_an_exchange_counts_as_token_exchange(exchange, tokens):
    from prometheus_client import REGISTRY

    def issued() -> float:
        labels = {"grant_type": "token_exchange"}
        return REGISTRY.get_sample_value("gateway_tokens_issued_total", labels) or 0

    before = issued()
    assert exchange("not-a-token").status_code == 400
    assert issued() == before
    assert exchange(tokens["access"]).status_code == 200
    assert issued() == before + 1
