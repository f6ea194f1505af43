"""Machine clients end to end: create_client, a token by curl-like requests (form
and HTTP Basic), /api/orders/ through the gateway, revocation refused at once,
and the orders service's exchange credentials as seed_demo provisions them."""

import json
import time
import uuid

import jwt
import pytest
import requests

from devstack.stack import Stack

TIMEOUT = 10
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TYPE = "urn:ietf:params:oauth:token-type:access_token"


@pytest.fixture
def machine(stack: Stack) -> tuple[str, str]:
    """A new client made by ``manage.py create_client``: (client_id, secret)."""
    client_id = f"reader-{uuid.uuid4().hex[:8]}"
    output = stack.manage(
        "gateway",
        "create_client",
        client_id,
        "--scope",
        "orders:read",
        "--audience",
        "orders",
    )
    printed = json.loads(output.strip().splitlines()[-1])
    assert printed["client_id"] == client_id
    return client_id, printed["client_secret"]


def token_url(gateway: str) -> str:
    return f"{gateway}/auth/oauth/token/"


def test_a_machine_client_reads_orders_until_its_token_is_revoked(gateway, machine):
    client_id, secret = machine
    by_form = requests.post(
        token_url(gateway),
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": secret,
        },
        timeout=TIMEOUT,
    )
    assert by_form.status_code == 200, by_form.text
    assert by_form.headers["Cache-Control"] == "no-store"
    by_basic = requests.post(
        token_url(gateway),
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
        timeout=TIMEOUT,
    )
    assert by_basic.status_code == 200, by_basic.text
    token = by_basic.json()["access_token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["sub"] == claims["client_id"] == client_id
    assert "username" not in claims

    bearer = {"Authorization": f"Bearer {token}"}
    orders = requests.get(f"{gateway}/api/orders/", headers=bearer, timeout=TIMEOUT)
    assert orders.status_code == 200, orders.text

    revoked = requests.post(
        f"{gateway}/auth/oauth/revoke/",
        data={"token": token},
        auth=(client_id, secret),
        timeout=TIMEOUT,
    )
    assert revoked.status_code == 200
    start = time.monotonic()
    refused = requests.get(f"{gateway}/api/orders/", headers=bearer, timeout=TIMEOUT)
    print(f"gateway refused the revoked token after {time.monotonic() - start:.3f} s")
    assert refused.status_code == 401
    assert refused.json()["detail"] == "Token has been revoked."
    # The form-authenticated token is another token: it still works.
    other = {"Authorization": f"Bearer {by_form.json()['access_token']}"}
    assert requests.get(f"{gateway}/api/orders/", headers=other, timeout=TIMEOUT).ok
    introspected = requests.post(
        f"{gateway}/auth/oauth/introspect/",
        data={"token": token},
        auth=(client_id, secret),
        timeout=TIMEOUT,
    )
    assert introspected.json() == {"active": False}


def test_a_wrong_secret_is_refused_with_a_basic_challenge(gateway, machine):
    client_id, _ = machine
    response = requests.post(
        token_url(gateway),
        data={"grant_type": "client_credentials"},
        auth=(client_id, "wrong"),
        timeout=TIMEOUT,
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_the_provisioned_orders_client_exchanges_a_users_token(stack, gateway):
    secret = (stack.workdir / "orders_client_secret").read_text().strip()
    user_token = stack.login("alice")["access"]
    response = requests.post(
        token_url(gateway),
        data={
            "grant_type": EXCHANGE,
            "subject_token": user_token,
            "subject_token_type": ACCESS_TYPE,
            "audience": "customers",
        },
        auth=("orders", secret),
        timeout=TIMEOUT,
    )
    assert response.status_code == 200, response.text
    claims = jwt.decode(
        response.json()["access_token"], options={"verify_signature": False}
    )
    assert claims["username"] == "alice"
    assert claims["aud"] == ["customers"]
    assert claims["act"] == {"sub": "orders"}
    assert claims["scope"] == "customers:read reservations:write"


def test_the_metadata_is_published(gateway):
    body = requests.get(
        f"{gateway}/.well-known/oauth-authorization-server", timeout=TIMEOUT
    ).json()
    assert body["token_endpoint"] == token_url(gateway)
    assert body["revocation_endpoint"] == f"{gateway}/auth/oauth/revoke/"
