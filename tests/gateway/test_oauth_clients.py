"""The client registry: create_client, provisioning, the admin, the metadata."""

import io
import json

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError

from gateway_project.oauth.models import Client
from tests.gateway.oauth_support import (
    TOKEN_URL,
    assert_error,
    basic,
    decode,
    post_form,
)

pytestmark = pytest.mark.django_db
CC = {"grant_type": "client_credentials"}


def create_client(*args: str) -> tuple[str, dict]:
    out = io.StringIO()
    call_command("create_client", *args, stdout=out)
    output = out.getvalue()
    return output, json.loads(output.strip().splitlines()[-1])


def test_create_client_prints_the_secret_once_as_its_last_line(api):
    output, printed = create_client(
        "reports", "--scope", "orders:read customers:read", "--audience", "orders"
    )
    assert set(printed) == {"client_id", "client_secret"}
    assert printed["client_id"] == "reports"
    client = Client.objects.get(client_id="reports")
    assert client.scope_list == ["orders:read", "customers:read"]
    assert client.audience_list == ["orders"]
    assert not client.may_exchange
    assert printed["client_secret"] not in client.secret_hash
    response = post_form(
        api, TOKEN_URL, CC, **basic("reports", printed["client_secret"])
    )
    assert response.status_code == 200


def test_create_client_again_gives_a_new_secret(api):
    _, first = create_client("reports", "--scope", "orders:read")
    _, second = create_client("reports", "--scope", "orders:read")
    assert first["client_secret"] != second["client_secret"]
    assert Client.objects.count() == 1
    old = post_form(api, TOKEN_URL, CC, **basic("reports", first["client_secret"]))
    assert_error(old, 401, "invalid_client")
    new = post_form(api, TOKEN_URL, CC, **basic("reports", second["client_secret"]))
    assert new.status_code == 200


def test_create_client_defaults_to_every_audience(settings):
    create_client("reports", "--scope", "orders:read")
    assert Client.objects.get().audience_list == settings.JWT_AUDIENCE


def test_create_client_can_allow_exchange():
    create_client(
        "relay",
        "--scope",
        "",
        "--exchange-audience",
        "customers",
        "--exchange-scope",
        "customers:read",
    )
    client = Client.objects.get()
    assert client.may_exchange and client.exchange_audience_list == ["customers"]


@pytest.mark.parametrize(
    "args",
    [
        ("reports", "--scope", "admin:everything"),
        ("reports", "--scope", "orders:read", "--audience", "billing"),
        ("42", "--scope", "orders:read"),  # would look like a user's sub
        ("has space", "--scope", "orders:read"),
        ("x" * 65, "--scope", "orders:read"),
        ("relay", "--scope", "", "--exchange-audience", "nowhere"),
    ],
)
def test_create_client_refuses_bad_input(args):
    with pytest.raises(CommandError):
        create_client(*args)
    assert not Client.objects.exists()


def test_seed_demo_provisions_the_orders_client_idempotently(api, settings):
    settings.DEBUG = True
    settings.ORDERS_CLIENT_SECRET = "first-secret"
    call_command("seed_demo", stdout=io.StringIO())
    settings.ORDERS_CLIENT_SECRET = "second-secret"
    call_command("seed_demo", stdout=io.StringIO())
    client = Client.objects.get()
    assert client.client_id == "orders"
    assert client.may_exchange and client.is_active
    assert client.exchange_audience_list == ["customers"]
    assert client.exchange_scope_list == ["customers:read", "reservations:write"]
    assert client.scope_list == ["customers:read", "reservations:write"]
    assert client.audience_list == ["customers"]
    # The secret is re-set from the settings each time.
    old = post_form(api, TOKEN_URL, CC, **basic("orders", "first-secret"))
    assert_error(old, 401, "invalid_client")
    new = post_form(api, TOKEN_URL, CC, **basic("orders", "second-secret"))
    assert new.status_code == 200


def test_the_orders_client_gets_its_own_token_for_customers(api, orders_client):
    """The reconciler's token: orders acting for no user, at customers only."""
    asked = {
        **CC,
        "scope": "customers:read reservations:write",
        "audience": "customers",
    }
    response = post_form(api, TOKEN_URL, asked, **basic(*orders_client))
    assert response.status_code == 200, response.content
    assert response.json()["scope"] == "customers:read reservations:write"
    claims = decode(response.json()["access_token"], audience="customers")
    assert claims["aud"] == ["customers"]
    assert claims["sub"] == claims["client_id"] == "orders"
    assert "username" not in claims and "act" not in claims
    assert claims["scope"] == "customers:read reservations:write"
    # Nothing beyond: no other scope, no other audience.
    wider = post_form(
        api, TOKEN_URL, {**asked, "scope": "customers:write"}, **basic(*orders_client)
    )
    assert_error(wider, 400, "invalid_scope")
    orders = post_form(
        api, TOKEN_URL, {**asked, "audience": "orders"}, **basic(*orders_client)
    )
    assert_error(orders, 400, "invalid_target")


def test_provision_clients_needs_the_secret(settings):
    settings.ORDERS_CLIENT_SECRET = ""
    with pytest.raises(CommandError):
        call_command("provision_clients", stdout=io.StringIO())
    settings.ORDERS_CLIENT_SECRET = "s3cret"
    call_command("provision_clients", stdout=io.StringIO())
    assert Client.objects.get().client_id == "orders"


# -- admin ----------------------------------------------------------------------
@pytest.fixture
def admin_client(client):
    client.force_login(User.objects.create_superuser("root", password="x"))
    return client


def test_the_admin_lists_and_searches_clients(admin_client, make_client):
    make_client("reports")
    make_client("nightly")
    listing = admin_client.get("/admin/oauth/client/?q=report")
    assert listing.status_code == 200
    assert "reports" in listing.content.decode()
    assert "nightly" not in listing.content.decode()


def test_the_admin_add_shows_the_secret_once(admin_client, api):
    form = {
        "client_id": "partner",
        "name": "Partner",
        "scopes": "orders:read",
        "audiences": "orders",
        "exchange_audiences": "",
        "exchange_scopes": "",
        "is_active": "on",
    }
    response = admin_client.post("/admin/oauth/client/add/", form)
    assert response.status_code == 200, response.content
    assert "no-store" in response["Cache-Control"]
    page = response.content.decode()
    client = Client.objects.get(client_id="partner")
    secret = page.split('<code class="client-secret">')[1].split("</code>")[0]
    ok = post_form(api, TOKEN_URL, CC, **basic("partner", secret))
    assert ok.status_code == 200
    change = admin_client.get(f"/admin/oauth/client/{client.pk}/change/")
    assert secret not in change.content.decode()
    assert client.secret_hash not in change.content.decode()


def test_the_new_secret_action_replaces_the_secret(admin_client, make_client, api):
    client, old = make_client("reports")
    response = admin_client.post(
        "/admin/oauth/client/",
        {"action": "new_secret", "_selected_action": [client.pk]},
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    secret = response.content.decode().split('"client-secret">')[1].split("<")[0]
    assert secret != old
    assert post_form(api, TOKEN_URL, CC, **basic("reports", secret)).status_code == 200
    stale = post_form(api, TOKEN_URL, CC, **basic("reports", old))
    assert_error(stale, 401, "invalid_client")
    # No message (cookie) carries it.
    assert secret not in str(response.cookies)


def test_the_deactivate_action_refuses_the_client_at_once(
    admin_client, make_client, api
):
    client, secret = make_client("reports")
    token = post_form(api, TOKEN_URL, CC, **basic("reports", secret)).json()
    response = admin_client.post(
        "/admin/oauth/client/",
        {"action": "deactivate", "_selected_action": [client.pk]},
    )
    assert response.status_code == 302
    assert not Client.objects.get().is_active
    refused = post_form(api, TOKEN_URL, CC, **basic("reports", secret))
    assert_error(refused, 401, "invalid_client")
    me = api.get("/auth/me/", HTTP_AUTHORIZATION="Bearer " + token["access_token"])
    assert me.status_code == 401


# -- metadata ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "path",
    ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"],
)
def test_the_metadata_names_the_oauth_endpoints(api, settings, path):
    response = api.get(path)
    assert response.status_code == 200
    body = response.json()
    issuer = settings.JWT_ISSUER
    assert body["issuer"] == issuer
    assert body["jwks_uri"] == issuer + "/.well-known/jwks.json"
    assert body["token_endpoint"] == issuer + "/auth/oauth/token/"
    assert body["introspection_endpoint"] == issuer + "/auth/oauth/introspect/"
    assert body["revocation_endpoint"] == issuer + "/auth/oauth/revoke/"
    assert set(body["grant_types_supported"]) >= {
        "client_credentials",
        "urn:ietf:params:oauth:grant-type:token-exchange",
    }
    assert set(body["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "client_secret_post",
    }
    assert set(body["scopes_supported"]) == {
        "orders:read",
        "orders:write",
        "customers:read",
        "customers:write",
        "reservations:write",
    }
    assert "max-age" in response["Cache-Control"]
