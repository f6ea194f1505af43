"""Delegation end to end: scopes, token exchange per hop, one-token revocation.

Real gunicorn processes (devstack/stack.py) on SQLite and PostgreSQL. The
orders service is OAuth client ``orders`` (provisioned by ``seed_demo``, its
secret in ``VAR_DIR``) and reaches customers only with tokens exchanged for
its caller's; a user's own token can no longer write credit reservations.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from decimal import Decimal

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from devstack.stack import Stack
from tests.e2e.test_story import Api
from tests.support.tokens import LOGIN_SCOPE, signed
from tests.support.tokens import claims as access_claims

TIMEOUT = 15
BOUND = 5.0  # seconds: a revoked token refused everywhere within this
POLL = 0.05
GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS = "urn:ietf:params:oauth:token-type:access_token"
EXCHANGE_LOG = "Token exchanged for audience customers"


# -- helpers ---------------------------------------------------------------------
def claims_of(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def header_of(token: str) -> dict:
    head = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def orders_credentials(stack: Stack) -> tuple[str, str]:
    """The orders service's client credentials, as seed_demo provisioned them."""
    return "orders", (stack.workdir / "orders_client_secret").read_text().strip()


def create_client(stack: Stack, prefix: str, *options: str) -> tuple[str, str]:
    """Create a client of this test only with ``create_client``; return its creds."""
    client_id = f"{prefix}-{uuid.uuid4().hex[:6]}"
    output = stack.manage("gateway", "create_client", client_id, *options)
    created = json.loads(output.strip().splitlines()[-1])
    assert created["client_id"] == client_id
    return client_id, created["client_secret"]


def token_endpoint(stack: Stack, credentials: tuple[str, str], **form: str):
    return requests.post(
        f"{stack.url('gateway')}/auth/oauth/token/",
        data=form,
        auth=credentials,
        timeout=TIMEOUT,
    )


def exchange(
    stack: Stack, credentials: tuple[str, str], subject: str, **form: str
) -> requests.Response:
    return token_endpoint(
        stack,
        credentials,
        grant_type=GRANT,
        subject_token=subject,
        subject_token_type=ACCESS,
        **form,
    )


def machine_token(stack: Stack, credentials: tuple[str, str], **form: str) -> str:
    response = token_endpoint(
        stack, credentials, grant_type="client_credentials", **form
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def assert_oauth_error(response: requests.Response, error: str, status=400) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == error, response.text
    assert "access_token" not in response.json()


def assert_insufficient_scope(response: requests.Response, scope: str) -> None:
    assert response.status_code == 403, response.text
    assert response.json()["code"] == "insufficient_scope"
    assert response.headers["WWW-Authenticate"] == (
        f'Bearer error="insufficient_scope", scope="{scope}"'
    )


# -- the reservation attack ----------------------------------------------------------
def test_a_users_own_token_cannot_touch_reservations(stack):
    """Issue 13's attack: orders stay APPROVED while their credit is released."""
    alice = Api(stack, "alice")
    customer = alice.new_customer(credit_limit="100.00")
    order = alice.order(customer["id"], "100.00").json()
    assert order["state"] == "APPROVED"
    path = f"/api/customers/{customer['id']}/reservations/"
    for base in (stack.url("customers"), stack.url("gateway")):
        release = requests.delete(
            f"{base}{path}{order['id']}/", headers=bearer(alice.token), timeout=TIMEOUT
        )
        assert_insufficient_scope(release, "reservations:write")
        reserve = requests.post(
            f"{base}{path}",
            json={"order_id": f"fake-{uuid.uuid4().hex[:8]}", "amount": "1.00"},
            headers=bearer(alice.token),
            timeout=TIMEOUT,
        )
        assert_insufficient_scope(reserve, "reservations:write")
    assert alice.available(customer["id"]) == Decimal("0.00")
    [reservation] = alice.reservations(customer["id"])
    assert reservation["order_id"] == order["id"]
    # The next order is still refused: the credit was never released.
    assert alice.order(customer["id"], "1.00").json()["state"] == "REJECTED"


@pytest.mark.parametrize("route", ["direct", "gateway"])
def test_orders_reserve_and_release_through_exchanged_tokens(stack, route):
    alice = Api(stack, "alice", route)
    customer = alice.new_customer(credit_limit="100.00")
    approved = alice.order(customer["id"], "60.00")
    assert approved.status_code == 201, approved.text
    assert approved.json()["state"] == "APPROVED"
    rejected = alice.order(customer["id"], "40.01").json()
    assert rejected["state"] == "REJECTED"
    [reservation] = alice.reservations(customer["id"])
    assert reservation["order_id"] == approved.json()["id"]
    assert reservation["username"] == "alice"
    assert reservation["sub"] == claims_of(alice.token)["sub"]
    assert reservation["actor"] == "orders"
    assert alice.available(customer["id"]) == Decimal("40.00")
    cancelled = alice.call(
        "POST", "orders", f"/api/orders/{approved.json()['id']}/cancel/"
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["state"] == "CANCELLED"
    assert alice.available(customer["id"]) == Decimal("100.00")
    assert alice.reservations(customer["id"]) == []


def test_a_burst_of_orders_costs_few_exchanges(stack):
    alice = Api(stack, "alice")
    customer = alice.new_customer(credit_limit="1000.00")
    log = stack.log_path("orders")
    before = log.read_text().count(EXCHANGE_LOG)
    for _ in range(20):
        response = alice.order(customer["id"], "1.00")
        assert response.json()["state"] == "APPROVED", response.text
    exchanges = log.read_text().count(EXCHANGE_LOG) - before
    print(f"\nexchanges for 20 orders [{stack.database}]: {exchanges}")
    assert 1 <= exchanges <= 2
    assert len(alice.reservations(customer["id"])) == 20


# -- the token exchange itself ---------------------------------------------------------
def test_an_exchanged_token_is_narrowed_and_names_its_actor(stack):
    token = stack.login("alice")["access"]
    assert header_of(token)["typ"].lower() in ("at+jwt", "application/at+jwt")
    response = exchange(stack, orders_credentials(stack), token, audience="customers")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["issued_token_type"] == ACCESS
    exchanged = claims_of(body["access_token"])
    subject = claims_of(token)
    assert exchanged["aud"] == ["customers"]
    assert exchanged["act"] == {"sub": "orders"}
    assert (exchanged["sub"], exchanged["username"]) == (
        subject["sub"],
        subject["username"],
    )
    assert set(exchanged["scope"].split()) <= {"customers:read", "reservations:write"}
    assert exchanged["exp"] <= subject["exp"]
    # Meant for customers only: orders refuses it.
    orders = requests.get(
        f"{stack.url('orders')}/api/orders/",
        headers=bearer(body["access_token"]),
        timeout=TIMEOUT,
    )
    assert orders.status_code == 401


def test_a_chain_of_two_exchanges_nests_act(stack):
    middle = create_client(
        stack,
        "relay",
        "--scope",
        "customers:read",
        "--exchange-audience",
        "customers",
        "--exchange-scope",
        "customers:read",
    )
    alice = stack.login("alice")["access"]
    first = exchange(stack, orders_credentials(stack), alice, audience="customers")
    assert first.status_code == 200, first.text
    second = exchange(stack, middle, first.json()["access_token"], audience="customers")
    assert second.status_code == 200, second.text
    token = second.json()["access_token"]
    claims = claims_of(token)
    assert claims["act"] == {"sub": middle[0], "act": {"sub": "orders"}}
    assert claims["scope"] == "customers:read"
    assert claims["username"] == "alice"
    # It reads alice's customers, but its actor may not write reservations.
    customers = stack.url("customers")
    listed = requests.get(
        f"{customers}/api/customers/", headers=bearer(token), timeout=TIMEOUT
    )
    assert listed.status_code == 200, listed.text
    assert listed.json()["count"] >= 1
    customer_id = listed.json()["results"][0]["id"]
    reserve = requests.post(
        f"{customers}/api/customers/{customer_id}/reservations/",
        json={"order_id": "chain-1", "amount": "1.00"},
        headers=bearer(token),
        timeout=TIMEOUT,
    )
    assert_insufficient_scope(reserve, "reservations:write")


def forged_token(stack: Stack, **claims) -> str:
    """A token of another issuer (its own key), under the gateway's kid."""
    jwks = requests.get(
        f"{stack.url('gateway')}/.well-known/jwks.json", timeout=TIMEOUT
    ).json()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    payload = access_claims(
        **{
            "iss": "https://evil.example",
            "sub": "1",
            "token_type": None,
            "roles": None,
            **claims,
        }
    )
    return signed(payload, key, kid=jwks["keys"][0]["kid"])


def expired_token(stack: Stack) -> str:
    """A login-like token signed by the gateway, expired a minute ago."""
    script = (
        "import time; from gateway_project.oauth.tokens import access_token_sign; "
        "print(access_token_sign({'aud': ['orders', 'customers'], 'sub': '1', "
        "'username': 'alice', 'client_id': 'gateway', "
        f"'scope': {LOGIN_SCOPE!r}}}, not_after=time.time() - 60)[0])"
    )
    return stack.manage("gateway", "shell", "-c", script).strip().splitlines()[-1]


def revoked_token(stack: Stack) -> str:
    """A login token of a fresh user who then logged out everywhere."""
    username = f"dlg-{uuid.uuid4().hex[:8]}"
    stack.manage(
        "gateway",
        "shell",
        "-c",
        "from django.contrib.auth.models import User; "
        f"User.objects.create_user({username!r}, password='delegation-pass-1')",
    )
    token = stack.login(username, "delegation-pass-1")["access"]
    response = requests.post(
        f"{stack.url('gateway')}/auth/logout/",
        json={"all": True},
        headers=bearer(token),
        timeout=TIMEOUT,
    )
    assert response.status_code == 204
    return token


def test_hostile_exchanges_get_rfc_6749_errors(stack):
    orders = orders_credentials(stack)
    login = stack.login("alice")
    alice = login["access"]
    exchanged = exchange(stack, orders, alice, audience="customers")
    assert exchanged.status_code == 200
    delegated = exchanged.json()["access_token"]
    cases = {
        "subject of another issuer": (
            exchange(stack, orders, forged_token(stack), audience="customers"),
            "invalid_grant",
        ),
        "expired subject": (
            exchange(stack, orders, expired_token(stack), audience="customers"),
            "invalid_grant",
        ),
        "revoked subject": (
            exchange(stack, orders, revoked_token(stack), audience="customers"),
            "invalid_grant",
        ),
        "refresh token as subject": (
            exchange(stack, orders, login["refresh"], audience="customers"),
            "invalid_grant",
        ),
        "audience not allowed": (
            exchange(stack, orders, alice, audience="orders"),
            "invalid_target",
        ),
        "scope beyond the client's": (
            exchange(stack, orders, alice, audience="customers", scope="orders:write"),
            "invalid_scope",
        ),
        "exchanged token, wider scope": (
            exchange(
                stack, orders, delegated, audience="customers", scope="customers:write"
            ),
            "invalid_scope",
        ),
        "exchanged token, wider audience": (
            exchange(stack, orders, delegated, audience="orders"),
            "invalid_target",
        ),
        "garbage subject": (
            exchange(stack, orders, "not.a.token", audience="customers"),
            "invalid_grant",
        ),
    }
    for name, (response, error) in cases.items():
        assert response.status_code == 400, (name, response.text)
        assert response.json()["error"] == error, (name, response.text)
        assert "access_token" not in response.json(), name
    wrong_secret = exchange(stack, ("orders", "wrong"), alice, audience="customers")
    assert_oauth_error(wrong_secret, "invalid_client", status=401)


def test_a_relay_cannot_widen_an_exchanged_tokens_audience(stack):
    """A client allowed both audiences still cannot turn a token meant for
    customers into one for orders with scopes its subject never had."""
    relay = create_client(
        stack,
        "wide",
        "--scope",
        "orders:read",
        "--exchange-audience",
        "orders,customers",
        "--exchange-scope",
        "orders:read orders:write customers:read customers:write",
    )
    alice = stack.login("alice")["access"]
    delegated = exchange(stack, orders_credentials(stack), alice, audience="customers")
    subject = delegated.json()["access_token"]
    wider = exchange(stack, relay, subject, audience="orders", scope="orders:read")
    assert_oauth_error(wider, "invalid_scope")
    widest = exchange(
        stack, relay, subject, audience="customers", scope="customers:write"
    )
    assert_oauth_error(widest, "invalid_scope")


def test_clients_that_may_not_exchange_or_exchange_themselves_are_refused(stack):
    plain = create_client(stack, "plain", "--scope", "orders:read")
    alice = stack.login("alice")["access"]
    assert_oauth_error(
        exchange(stack, plain, alice, audience="orders"), "unauthorized_client"
    )
    selfish = create_client(
        stack,
        "self",
        "--scope",
        "customers:read",
        "--audience",
        "customers",
        "--exchange-audience",
        "customers",
        "--exchange-scope",
        "customers:read",
    )
    own = machine_token(stack, selfish)
    assert_oauth_error(
        exchange(stack, selfish, own, audience="customers"), "invalid_grant"
    )


# -- machine clients ---------------------------------------------------------------
def test_a_machine_client_reads_orders_through_the_gateway_but_cannot_write(stack):
    alice = Api(stack, "alice")
    customer = alice.new_customer()
    order = alice.order(customer["id"], "5.00").json()
    reader = create_client(
        stack, "report", "--scope", "orders:read", "--audience", "orders"
    )
    token = machine_token(stack, reader)
    assert "username" not in claims_of(token)
    gateway = stack.url("gateway")
    listed = requests.get(
        f"{gateway}/api/orders/?page_size=100", headers=bearer(token), timeout=TIMEOUT
    )
    assert listed.status_code == 200, listed.text
    assert listed.json()["count"] >= 1
    one = requests.get(
        f"{gateway}/api/orders/{order['id']}/", headers=bearer(token), timeout=TIMEOUT
    )
    assert one.status_code == 200, one.text  # alice's order, read by the machine
    refused = requests.post(
        f"{gateway}/api/orders/",
        json={"customer_id": customer["id"], "total": "1.00"},
        headers=bearer(token),
        timeout=TIMEOUT,
    )
    assert_insufficient_scope(refused, "orders:write")
    cancel = requests.post(
        f"{gateway}/api/orders/{order['id']}/cancel/",
        headers=bearer(token),
        timeout=TIMEOUT,
    )
    assert_insufficient_scope(cancel, "orders:write")
    assert alice.available(customer["id"]) == Decimal("95.00")


def test_a_revoked_access_token_is_refused_everywhere_within_the_bound(stack):
    client = create_client(
        stack,
        "revoke",
        "--scope",
        "orders:read customers:read",
        "--audience",
        "orders,customers",
    )
    token = machine_token(stack, client)
    sibling = machine_token(stack, client)
    gateway = stack.url("gateway")
    targets = {
        "gateway": f"{gateway}/api/orders/",
        "orders": f"{stack.url('orders')}/api/orders/",
        "customers": f"{stack.url('customers')}/api/customers/",
    }
    for name, url in targets.items():
        response = requests.get(url, headers=bearer(token), timeout=TIMEOUT)
        assert response.status_code == 200, (name, response.text)

    revoked = requests.post(
        f"{gateway}/auth/oauth/revoke/",
        data={"token": token},
        auth=client,
        timeout=TIMEOUT,
    )
    done = time.monotonic()
    assert revoked.status_code == 200, revoked.text

    lags: dict[str, float] = {}
    deadline = done + BOUND + 5
    while len(lags) < len(targets) and time.monotonic() < deadline:
        for name in targets.keys() - lags.keys():
            response = requests.get(
                targets[name], headers=bearer(token), timeout=TIMEOUT
            )
            if response.status_code == 401:
                lags[name] = time.monotonic() - done
            else:
                assert response.status_code == 200, (name, response.text)
        time.sleep(POLL)
    for name, lag in sorted(lags.items()):
        print(f"\none-token revocation lag [{stack.database}] -> {name}: {lag:.3f} s")
    assert set(lags) == set(targets)
    assert max(lags.values()) < BOUND
    assert lags["gateway"] < 1.0  # from the next request on
    for name, url in targets.items():  # the client's other token still works
        response = requests.get(url, headers=bearer(sibling), timeout=TIMEOUT)
        assert response.status_code == 200, (name, response.text)
