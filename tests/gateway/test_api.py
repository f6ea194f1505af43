"""The token endpoints, /auth/me/ and the published keys, through HTTP."""

import jwt
import pytest
from django.contrib.auth.models import User
from rest_framework_simplejwt.token_blacklist.models import (
    BlacklistedToken,
    OutstandingToken,
)

from gateway_project.identity import keys

pytestmark = pytest.mark.django_db

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "k"}


def post(api, path, body):
    return api.post(path, body, format="json")


# -- login --------------------------------------------------------------------
def test_login_returns_a_pair_and_records_the_login(alice, login):
    response = login("alice")
    assert response.status_code == 200
    assert set(response.json()) == {"access", "refresh"}
    alice.refresh_from_db()
    assert alice.last_login is not None
    assert OutstandingToken.objects.filter(user=alice).count() == 1


@pytest.mark.parametrize(
    ("username", "password"), [("alice", "wrong"), ("nobody", "whatever")]
)
def test_bad_credentials_are_401_with_one_answer(alice, login, username, password):
    response = login(username, password)
    assert response.status_code == 401
    assert response.json()["detail"] == (
        "No active account found with the given credentials"
    )


def test_a_deactivated_user_cannot_log_in(alice, login):
    User.objects.filter(pk=alice.pk).update(is_active=False)
    assert login("alice").status_code == 401


def test_missing_fields_are_400_json(api):
    response = post(api, "/auth/token/", {"username": "alice"})
    assert response.status_code == 400
    assert response.json()["detail"] == "password: This field is required."


# -- refresh ------------------------------------------------------------------
def test_refresh_rotates_and_refuses_the_old_token(api, tokens):
    first = post(api, "/auth/token/refresh/", {"refresh": tokens["refresh"]})
    assert first.status_code == 200
    assert set(first.json()) == {"access", "refresh"}
    assert first.json()["refresh"] != tokens["refresh"]
    old_jti = jwt.decode(tokens["refresh"], options={"verify_signature": False})["jti"]
    assert BlacklistedToken.objects.filter(token__jti=old_jti).exists()

    again = post(api, "/auth/token/refresh/", {"refresh": tokens["refresh"]})
    assert again.status_code == 401
    assert again.json()["detail"] == "Token is blacklisted"
    newer = post(api, "/auth/token/refresh/", {"refresh": first.json()["refresh"]})
    assert newer.status_code == 200


def test_a_deactivated_user_cannot_refresh(api, alice, tokens):
    User.objects.filter(pk=alice.pk).update(is_active=False)
    response = post(api, "/auth/token/refresh/", {"refresh": tokens["refresh"]})
    assert response.status_code == 401
    assert response.json()["code"] == "no_active_account"


def test_a_deleted_user_cannot_refresh(api, alice, tokens):
    alice.delete()  # which also revokes her tokens (test_revocation.py)
    response = post(api, "/auth/token/refresh/", {"refresh": tokens["refresh"]})
    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"


def test_an_access_token_does_not_refresh(api, tokens):
    response = post(api, "/auth/token/refresh/", {"refresh": tokens["access"]})
    assert response.status_code == 401


# -- verify -------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["access", "refresh"])
def test_verify_accepts_a_valid_token(api, tokens, kind):
    response = post(api, "/auth/token/verify/", {"token": tokens[kind]})
    assert response.status_code == 200
    assert response.json() == {}


def test_verify_refuses_a_blacklisted_token(api, tokens):
    post(api, "/auth/logout/", {"refresh": tokens["refresh"]})
    response = post(api, "/auth/token/verify/", {"token": tokens["refresh"]})
    assert response.status_code == 401
    assert response.json()["detail"] == "Token is blacklisted"


# -- logout -------------------------------------------------------------------
def test_logout_blacklists_the_refresh_token(api, tokens):
    response = post(api, "/auth/logout/", {"refresh": tokens["refresh"]})
    assert response.status_code == 204
    assert BlacklistedToken.objects.count() == 1
    refused = post(api, "/auth/token/refresh/", {"refresh": tokens["refresh"]})
    assert refused.status_code == 401
    assert post(api, "/auth/logout/", {"refresh": tokens["refresh"]}).status_code == 401


def test_logout_with_a_bad_token_is_401(api):
    response = post(api, "/auth/logout/", {"refresh": "nope"})
    assert response.status_code == 401
    assert response.json()["detail"]


# -- me -----------------------------------------------------------------------
def test_me_returns_the_claims_the_services_see(api, tokens, django_assert_num_queries):
    api.credentials(HTTP_AUTHORIZATION="Bearer " + tokens["access"])
    api.get("/auth/me/")  # this process loads the revocations (one query)
    with django_assert_num_queries(0):
        response = api.get("/auth/me/")
    assert response.status_code == 200
    claims = jwt.decode(tokens["access"], options={"verify_signature": False})
    assert response.json() == claims


@pytest.mark.parametrize("kind", ["refresh", None])
def test_me_without_an_access_token_is_401(api, tokens, kind):
    if kind:
        api.credentials(HTTP_AUTHORIZATION="Bearer " + tokens[kind])
    response = api.get("/auth/me/")
    assert response.status_code == 401
    assert response.json()["detail"]


# -- published keys -----------------------------------------------------------
def test_jwks_publishes_the_signing_key_cacheably(
    api, tokens, django_assert_num_queries
):
    with django_assert_num_queries(0):
        response = api.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert "max-age=60" in response["Cache-Control"]
    [jwk] = response.json()["keys"]
    assert not PRIVATE_MEMBERS & set(jwk)
    assert (jwk["kty"], jwk["alg"], jwk["use"]) == ("RSA", "RS256", "sig")
    key = jwt.PyJWKSet.from_dict(response.json())[jwk["kid"]]
    claims = jwt.decode(tokens["access"], key, audience="customers", issuer=None)
    assert claims["username"] == "alice"


def test_openid_configuration_points_at_the_keys(api, settings):
    response = api.get("/.well-known/openid-configuration")
    assert response.status_code == 200
    body = response.json()
    assert body["issuer"] == settings.JWT_ISSUER
    assert body["jwks_uri"] == settings.JWT_ISSUER + "/.well-known/jwks.json"
    assert body["token_endpoint"] == settings.JWT_ISSUER + "/auth/oauth/token/"
    assert "max-age" in response["Cache-Control"]
    assert "HS256" not in body["id_token_signing_alg_values_supported"]


def test_jwks_is_get_only(api):
    response = api.post("/.well-known/jwks.json", {})
    assert response.status_code == 405
    assert response.json()["detail"]
    assert keys.signing_key()


def test_login_and_refresh_query_counts(alice, login, api, django_assert_num_queries):
    # user, last_login, outstanding token; the access token's user and groups.
    with django_assert_num_queries(5):
        tokens = login("alice").json()
    # simplejwt: user check, blacklist check, blacklisting the old token and
    # recording the new one (get_or_create in savepoints); our user and groups;
    # the subject's revocation.
    with django_assert_num_queries(16):
        post(api, "/auth/token/refresh/", {"refresh": tokens["refresh"]})
