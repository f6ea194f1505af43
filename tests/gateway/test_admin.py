"""The admin: users, groups, tokens, and the "revoke all tokens" action."""

import pytest
from django.contrib.auth.models import User
from rest_framework_simplejwt.token_blacklist.models import (
    BlacklistedToken,
    OutstandingToken,
)

from gateway_project.identity.services import refresh_tokens_revoke

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(User.objects.create_superuser("root", password="x"))
    return client


@pytest.mark.parametrize(
    "page",
    [
        "auth/user/",
        "auth/group/",
        "token_blacklist/outstandingtoken/",
        "token_blacklist/blacklistedtoken/",
    ],
)
def test_admin_lists_users_groups_and_tokens(admin_client, tokens, page):
    response = admin_client.get(f"/admin/{page}")
    assert response.status_code == 200


def test_revoke_action_blacklists_the_selected_users_refresh_tokens(
    admin_client, alice, staff, login, api
):
    alice_tokens = [login("alice").json()["refresh"] for _ in range(2)]
    login("sam")
    response = admin_client.post(
        "/admin/auth/user/",
        {"action": "revoke_all_tokens", "_selected_action": [alice.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert "(2 refresh token(s) blacklisted)" in response.content.decode()
    assert BlacklistedToken.objects.filter(token__user=alice).count() == 2
    assert not BlacklistedToken.objects.filter(token__user=staff).exists()
    for refresh in alice_tokens:
        body = {"refresh": refresh}
        refused = api.post("/auth/token/refresh/", body, format="json")
        assert refused.status_code == 401


def test_revoking_twice_counts_only_live_tokens(alice, login):
    login("alice")
    assert refresh_tokens_revoke(users=[alice]) == 1
    assert refresh_tokens_revoke(users=[alice]) == 0
    assert OutstandingToken.objects.filter(user=alice).count() == 1


def test_the_admin_login_form_still_renders(client):
    assert client.get("/admin/").url == "/admin/login/?next=/admin/"
    response = client.get("/admin/login/")
    assert response.status_code == 200
    assert b"csrfmiddlewaretoken" in response.content
