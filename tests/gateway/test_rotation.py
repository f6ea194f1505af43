"""Key rotation seen through HTTP: old tokens keep working, the JWKS lists both."""

from datetime import timedelta

import jwt
import pytest
from django.core.management import call_command
from django.utils import timezone

from gateway_project.identity import keys
from gateway_project.identity.keys import KeyStore, retention

pytestmark = pytest.mark.django_db


def kid_of(token: str) -> str:
    return jwt.get_unverified_header(token)["kid"]


def test_tokens_signed_before_a_rotation_keep_working(api, tokens, login, keys_dir):
    old_kid = kid_of(tokens["access"])
    call_command("rotate_signing_key")
    new_kid = keys.signing_key().kid
    assert new_kid != old_kid

    verify = api.post("/auth/token/verify/", {"token": tokens["access"]}, format="json")
    assert verify.status_code == 200
    api.credentials(HTTP_AUTHORIZATION="Bearer " + tokens["access"])
    assert api.get("/auth/me/").status_code == 200
    api.credentials()

    kids = [jwk["kid"] for jwk in api.get("/.well-known/jwks.json").json()["keys"]]
    assert kids == [new_kid, old_kid]

    refreshed = api.post(
        "/auth/token/refresh/", {"refresh": tokens["refresh"]}, format="json"
    )
    assert refreshed.status_code == 200
    assert kid_of(refreshed.json()["access"]) == new_kid
    assert kid_of(login("alice").json()["access"]) == new_kid


def test_after_pruning_tokens_of_the_pruned_key_are_refused(api, tokens, keys_dir):
    store = KeyStore(keys_dir)
    store.rotate()
    pruned = store.prune(now=timezone.now() + retention() + timedelta(seconds=1))
    assert [key.kid for key in pruned] == [kid_of(tokens["access"])]
    response = api.post(
        "/auth/token/verify/", {"token": tokens["access"]}, format="json"
    )
    assert response.status_code == 401
    assert len(api.get("/.well-known/jwks.json").json()["keys"]) == 1
