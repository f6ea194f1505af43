"""Introspection (RFC 7662) and revocation (RFC 7009) at /auth/oauth/, and the
revoked token ids in the services' revocation feed."""

import time
from datetime import timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.utils import timezone

from gateway_project.identity.models import TokenRevocation
from gateway_project.identity.revocation_memo import RevocationMemo
from gateway_project.identity.services import subject_tokens_revoke
from tests.gateway.oauth_support import (
    INTROSPECT_URL,
    REVOKE_URL,
    TOKEN_URL,
    assert_error,
    basic,
    decode,
    post_form,
)
from tests.support.tokens import gateway_claims, gateway_signed

# Transactions really commit: a revocation reaches every process's memory through
# a revision written on commit.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def batch(make_client):
    return make_client("batch", scopes=["orders:read"], audiences=None)


@pytest.fixture
def machine_token(api, batch) -> str:
    _, secret = batch
    data = {"grant_type": "client_credentials"}
    return post_form(api, TOKEN_URL, data, **basic("batch", secret)).json()[
        "access_token"
    ]


def introspect(api, credentials, token: str, **params):
    return post_form(
        api, INTROSPECT_URL, {"token": token, **params}, **basic(*credentials)
    )


def revoke(api, credentials, token: str, **params):
    return post_form(api, REVOKE_URL, {"token": token, **params}, **basic(*credentials))


def me(api, token: str):
    return api.get("/auth/me/", HTTP_AUTHORIZATION="Bearer " + token)


def creds(client_and_secret) -> tuple[str, str]:
    client, secret = client_and_secret
    return client.client_id, secret


# -- introspection ------------------------------------------------------------------
def test_a_valid_machine_token_is_active(api, batch, machine_token, settings):
    response = introspect(api, creds(batch), machine_token)
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    claims = decode(machine_token)
    assert body["active"] is True
    assert body["sub"] == body["client_id"] == "batch"
    assert body["scope"] == "orders:read"
    assert body["aud"] == ["orders", "customers"]
    assert body["iss"] == settings.JWT_ISSUER
    assert (body["exp"], body["iat"], body["jti"]) == (
        claims["exp"],
        claims["iat"],
        claims["jti"],
    )
    assert body["token_type"] == "Bearer"


def test_any_client_may_introspect_a_users_token(api, batch, tokens, alice):
    body = introspect(api, creds(batch), tokens["access"]).json()
    assert body["active"] is True
    assert body["sub"] == str(alice.pk) and body["username"] == "alice"
    assert body["client_id"] == "gateway"


def test_a_refresh_token_is_active_until_blacklisted(api, batch, tokens):
    body = introspect(api, creds(batch), tokens["refresh"]).json()
    assert body["active"] is True and body["token_type"] == "refresh_token"
    api.post("/auth/logout/", {"refresh": tokens["refresh"]}, format="json")
    assert introspect(api, creds(batch), tokens["refresh"]).json() == {"active": False}


@pytest.fixture
def claims():
    """batch's machine token for orders."""
    return gateway_claims(
        aud=["orders"],
        sub="batch",
        client_id="batch",
        scope="orders:read",
        username=None,
        roles=None,
        exp=int(time.time()) + 60,
        jti="j1",
    )


def test_expired_forged_and_foreign_tokens_are_inactive(api, batch, claims):
    assert (
        introspect(api, creds(batch), gateway_signed(claims)).json()["active"] is True
    )
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for token in (
        gateway_signed({**claims, "exp": int(time.time()) - 60}),  # expired
        gateway_signed(claims, key=other_key),  # forged
        gateway_signed({**claims, "iss": "https://other.example"}),  # other issuer
        gateway_signed({**claims, "aud": ["elsewhere"]}),  # not for our services
        jwt.encode(claims, None, algorithm="none"),
        "garbage",
        "a.b.c",
    ):
        response = introspect(api, creds(batch), token)
        assert response.status_code == 200
        assert response.json() == {"active": False}, token


def test_revoked_tokens_are_inactive(api, batch, tokens, alice, machine_token):
    subject_tokens_revoke(user=alice)
    assert introspect(api, creds(batch), tokens["access"]).json() == {"active": False}
    revoke(api, creds(batch), machine_token)
    assert introspect(api, creds(batch), machine_token).json() == {"active": False}


def test_introspection_needs_client_authentication(api, batch, machine_token):
    response = post_form(api, INTROSPECT_URL, {"token": machine_token})
    assert_error(response, 401, "invalid_client")
    response = introspect(api, ("batch", "wrong"), machine_token)
    assert_error(response, 401, "invalid_client")
    # A bearer token is no client authentication.
    response = post_form(
        api,
        INTROSPECT_URL,
        {"token": machine_token},
        HTTP_AUTHORIZATION="Bearer " + machine_token,
    )
    assert_error(response, 401, "invalid_client")


def test_introspection_without_a_token_is_invalid_request(api, batch):
    assert_error(introspect(api, creds(batch), ""), 400, "invalid_request")
    response = api.post(
        INTROSPECT_URL, {"token": "x"}, format="json", **basic(*creds(batch))
    )
    assert_error(response, 400, "invalid_request")


# -- revocation ---------------------------------------------------------------------
def test_a_revoked_access_token_is_refused_at_the_next_request(
    api, batch, machine_token
):
    assert me(api, machine_token).status_code == 200
    response = revoke(api, creds(batch), machine_token)
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert response.json() == {}
    refused = me(api, machine_token)
    assert refused.status_code == 401
    assert refused.json()["code"] == "token_revoked"
    row = TokenRevocation.objects.get()
    claims = decode(machine_token)
    assert row.jti == claims["jti"]
    assert row.exp.timestamp() == claims["exp"]
    # Another token of the same client still works.
    _, secret = batch
    data = {"grant_type": "client_credentials"}
    fresh = post_form(api, TOKEN_URL, data, **basic("batch", secret)).json()
    assert me(api, fresh["access_token"]).status_code == 200


def test_another_gateway_process_refuses_it_at_its_next_check(
    api, batch, machine_token
):
    other = RevocationMemo()  # another worker's memory, loaded before
    claims = decode(machine_token)
    assert not other.is_revoked(sub="batch", iat=claims["iat"], jti=claims["jti"])
    revoke(api, creds(batch), machine_token)
    assert other.is_revoked(sub="batch", iat=claims["iat"], jti=claims["jti"])
    assert not other.is_revoked(sub="batch", iat=claims["iat"], jti="other")


def test_revoking_twice_unknown_or_invalid_tokens_is_200(api, batch, machine_token):
    for token in (machine_token, machine_token, "garbage", "a.b.c", "x" * 100):
        response = revoke(api, creds(batch), token)
        assert response.status_code == 200, response.content
    assert TokenRevocation.objects.count() == 1


def test_a_client_may_not_revoke_another_clients_token(
    api, make_client, machine_token, tokens
):
    other = make_client("other")
    response = revoke(api, creds(other), machine_token)
    assert_error(response, 400, "unauthorized_client")
    assert response.status_code == 400
    assert me(api, machine_token).status_code == 200
    # Nor a user's login tokens (issued to the first-party client).
    assert_error(
        revoke(api, creds(other), tokens["access"]), 400, "unauthorized_client"
    )
    assert_error(
        revoke(api, creds(other), tokens["refresh"]), 400, "unauthorized_client"
    )
    assert not TokenRevocation.objects.exists()


def test_the_exchanging_client_may_revoke_the_token_it_got(api, orders_client, tokens):
    from tests.gateway.oauth_support import ACCESS_TYPE, EXCHANGE

    data = {
        "grant_type": EXCHANGE,
        "subject_token": tokens["access"],
        "subject_token_type": ACCESS_TYPE,
        "audience": "customers",
    }
    exchanged = post_form(api, TOKEN_URL, data, **basic(*orders_client)).json()
    response = revoke(api, orders_client, exchanged["access_token"])
    assert response.status_code == 200
    assert TokenRevocation.objects.filter(client_id="orders").exists()


def test_the_first_party_client_may_revoke_login_tokens(api, make_client, tokens):
    gateway = make_client("gateway", scopes=[])
    assert revoke(api, creds(gateway), tokens["refresh"]).status_code == 200
    refreshed = api.post(
        "/auth/token/refresh/", {"refresh": tokens["refresh"]}, format="json"
    )
    assert refreshed.status_code == 401
    assert revoke(api, creds(gateway), tokens["access"]).status_code == 200
    assert me(api, tokens["access"]).status_code == 401


def test_revocation_needs_client_authentication(api, batch, machine_token):
    assert_error(
        post_form(api, REVOKE_URL, {"token": machine_token}), 401, "invalid_client"
    )
    assert_error(revoke(api, ("batch", "nope"), machine_token), 401, "invalid_client")
    assert me(api, machine_token).status_code == 200
    assert_error(revoke(api, creds(batch), ""), 400, "invalid_request")


# -- the feed -----------------------------------------------------------------------
def test_the_feed_lists_revoked_token_ids_until_they_expire(
    api, settings, batch, machine_token
):
    settings.REVOCATION_FEED_TOKEN = "feed-secret"
    feed = {"HTTP_AUTHORIZATION": "Bearer feed-secret"}
    since = time.time() - 1
    revoke(api, creds(batch), machine_token)
    body = api.get(f"/auth/revocations/?since={since}", **feed).json()
    claims = decode(machine_token)
    assert body["tokens"] == [{"jti": claims["jti"], "exp": float(claims["exp"])}]
    assert body["revocations"] == []
    # Revoked before since (minus the 10 s overlap): not sent again.
    TokenRevocation.objects.update(revoked_at=timezone.now() - timedelta(seconds=60))
    later = api.get(f"/auth/revocations/?since={time.time() - 30}", **feed).json()
    assert later["tokens"] == []
    # Expired: never sent.
    TokenRevocation.objects.update(exp=timezone.now())
    assert api.get("/auth/revocations/?since=0", **feed).json()["tokens"] == []


def test_the_admin_lists_revoked_tokens_read_only(client, batch, machine_token, api):
    from django.contrib.auth.models import User

    revoke(api, creds(batch), machine_token)
    client.force_login(User.objects.create_superuser("root", password="x"))
    jti = decode(machine_token)["jti"]
    listing = client.get("/admin/identity/tokenrevocation/")
    assert listing.status_code == 200
    assert jti in listing.content.decode()
    assert client.get("/admin/identity/tokenrevocation/add/").status_code == 403
    url = f"/admin/identity/tokenrevocation/{jti}/delete/"
    assert client.post(url, {"post": "yes"}).status_code == 403
    assert TokenRevocation.objects.filter(jti=jti).exists()
