"""Access and refresh tokens: header, claims, lifetimes, roles."""

from datetime import timedelta

import jwt
import pytest
from django.contrib.auth.models import Group
from rest_framework_simplejwt.exceptions import TokenError

from gateway_project.identity import keys
from gateway_project.identity.tokens import AccessToken, RefreshToken, access_token_for

pytestmark = pytest.mark.django_db


def decode(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_access_token_for_carries_every_contract_claim(alice, settings):
    token = access_token_for(alice)
    header = jwt.get_unverified_header(token)
    assert header["kid"] == keys.signing_key().kid
    assert header["alg"] == "RS256"
    claims = jwt.decode(
        token,
        keys.public_key(header["kid"]),
        algorithms=["RS256"],
        audience="orders",
        issuer=settings.JWT_ISSUER,
    )
    assert claims["aud"] == ["orders", "customers"]
    assert claims["sub"] == str(alice.pk)
    assert claims["username"] == "alice"
    assert claims["roles"] == ["buyers"]
    assert claims["token_type"] == "access"
    assert claims["exp"] - int(claims["iat"]) == 300
    assert len(claims["jti"]) == 32


def test_staff_users_carry_the_staff_role(staff):
    staff.groups.add(Group.objects.create(name="auditors"))
    assert decode(access_token_for(staff))["roles"] == ["auditors", "staff"]


def test_login_tokens_have_the_configured_lifetimes(tokens):
    access, refresh = decode(tokens["access"]), decode(tokens["refresh"])
    # exp is whole seconds counted from the refresh token's creation; iat keeps
    # microseconds and the access token is made a moment later (maybe in the next
    # second): 300 s, less under 2 s.
    assert 298 < access["exp"] - access["iat"] <= 300
    day = int(timedelta(days=1).total_seconds())
    assert day - 1 < refresh["exp"] - refresh["iat"] <= day
    assert refresh["token_type"] == "refresh"
    assert access["username"] == "alice"
    assert access["sub"] == refresh["sub"]


def test_refreshed_access_tokens_carry_the_roles_of_now(alice, tokens, api):
    alice.groups.add(Group.objects.create(name="sellers"))
    body = {"refresh": tokens["refresh"]}
    response = api.post("/auth/token/refresh/", body, format="json")
    assert decode(response.json()["access"])["roles"] == ["buyers", "sellers"]


def test_tokens_round_trip_through_simplejwt(alice):
    refresh = RefreshToken.for_user(alice)
    assert RefreshToken(str(refresh))["sub"] == str(alice.pk)
    assert AccessToken(str(refresh.access_token))["username"] == "alice"


def test_a_refresh_token_is_blacklisted_once_only(alice):
    raw = str(RefreshToken.for_user(alice))
    RefreshToken(raw).blacklist()
    # A concurrent refresh that passed the blacklist check before this one wrote.
    with pytest.raises(TokenError, match="blacklisted"):
        RefreshToken(raw, verify=False).blacklist()
