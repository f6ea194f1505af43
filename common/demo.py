"""``make demo``: the access-token story, step by step, against a running stack.

``python -m common.demo [--gateway URL] [--orders URL]`` logs alice in, shows
her token's claims and the JWKS that verifies it, creates a customer and an
order through the gateway, shows the credit reservation and who made it (the
orders service, acting for alice), has alice write a reservation with her own
token and bob cancel her order (both refused), logs alice out everywhere and
shows her old token refused at the gateway and then at the orders service.
Each request is printed with the part of its answer that matters; the first
step that does not behave stops the walk with exit status 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from collections.abc import Iterable
from typing import Any, TextIO

import jwt
import requests

# The users ``manage.py seed_demo`` creates (tests/gateway checks they agree):
# username, password, role.
USERS = (
    ("alice", "alice-demo-pass", "user"),
    ("bob", "bob-demo-pass", "user"),
    ("admin", "admin-demo-pass", "superuser (staff)"),
)
PASSWORDS = {username: password for username, password, _ in USERS}
TIMEOUT = 10.0
# The contract lets a service take 5 s to learn a revocation from the feed.
REVOCATION_WAIT = 6.0
REVOCATION_POLL = 0.25


class StepFailed(Exception):
    """A step of the walk got an answer the story does not expect."""


def _short(value: Any, limit: int = 200) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Walk:
    """One run of the story: the base URLs, one HTTP session, numbered steps."""

    def __init__(self, *, gateway: str, orders: str, out: TextIO = sys.stdout):
        self.gateway = gateway.rstrip("/")
        self.orders = orders.rstrip("/")
        self.out = out
        self.session = requests.Session()
        self.number = 0

    # -- printing ------------------------------------------------------------
    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def step(self, title: str) -> None:
        self.number += 1
        self.say(f"\n{self.number}. {title}")

    def show(self, **fields: Any) -> None:
        """Print each field that has a value."""
        for name, value in fields.items():
            if value is not None:
                self.say(f"     {name}: {_short(value)}")

    # -- HTTP ----------------------------------------------------------------
    def call(
        self,
        method: str,
        url: str,
        *,
        expect: Iterable[int],
        token: str | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """Send one request, print it and its status; raise ``StepFailed`` if
        the status is not one of ``expect``."""
        expected = tuple(expect)
        headers = dict(kwargs.pop("headers", {}))
        if token:
            headers["Authorization"] = f"Bearer {token[:12]}..."
        body = f" {_short(kwargs['json'])}" if "json" in kwargs else ""
        shown = " ".join(f"-H '{k}: {v}'" for k, v in headers.items())
        self.say(f"   > {method} {url}{body} {shown}".rstrip())
        if token:
            headers["Authorization"] = f"Bearer {token}"
        response = self.session.request(
            method, url, headers=headers, timeout=TIMEOUT, **kwargs
        )
        self.say(f"   < {response.status_code} {response.reason}")
        if response.status_code not in expected:
            raise StepFailed(
                f"{method} {url}: expected {' or '.join(map(str, expected))}, "
                f"got {response.status_code}: {_short(response.text, 400)}"
            )
        return response

    def login(self, username: str) -> str:
        response = self.call(
            "POST",
            f"{self.gateway}/auth/token/",
            json={"username": username, "password": PASSWORDS[username]},
            expect=[200],
        )
        return response.json()["access"]

    # -- the story -----------------------------------------------------------
    def run(self) -> None:
        self.step("alice logs in at the gateway and gets a signed access token")
        access = self.login("alice")
        header = jwt.get_unverified_header(access)
        claims = jwt.decode(access, options={"verify_signature": False})
        self.show(header=header)
        self.show(**{k: claims.get(k) for k in ("iss", "sub", "username", "roles")})
        self.show(**{k: claims.get(k) for k in ("aud", "scope", "client_id")})
        self.show(lifetime=f"{claims['exp'] - claims['iat']:.0f} s")
        if claims.get("username") != "alice" or header.get("alg", "").startswith("HS"):
            raise StepFailed(f"unexpected token: {header} {claims}")

        self.step("anyone can check that signature with the gateway's public keys")
        keys = self.call(
            "GET", f"{self.gateway}/.well-known/jwks.json", expect=[200]
        ).json()["keys"]
        for key in keys:
            self.show(**{f"key {key.get('kid')}": f"{key.get('kty')} {key.get('alg')}"})
        jwk = next((k for k in keys if k.get("kid") == header.get("kid")), None)
        if jwk is None:
            raise StepFailed(f"the JWKS has no key {header.get('kid')!r}")
        jwt.decode(
            access,
            jwt.PyJWK(jwk).key,
            algorithms=[header["alg"]],
            audience="orders",
            options={"verify_iss": False},
        )
        self.show(verified=f"signature checked with key {jwk['kid']}, aud has orders")

        self.step("a customer with a credit limit, through the gateway")
        name = f"Demo customer {time.strftime('%H:%M:%S')}"
        customer = self.call(
            "POST",
            f"{self.gateway}/api/customers/",
            token=access,
            json={"name": name, "credit_limit": "100.00"},
            expect=[201],
        ).json()
        self.show(**{k: customer.get(k) for k in ("id", "owner_username")})
        self.show(available_credit=customer.get("available_credit"))

        self.step("an order against that credit: orders asks customers to reserve")
        order = self.call(
            "POST",
            f"{self.gateway}/api/orders/",
            token=access,
            json={"customer_id": customer["id"], "total": "30.00"},
            headers={"Idempotency-Key": f"demo-{uuid.uuid4()}"},
            expect=[201],
        ).json()
        self.show(**{k: order.get(k) for k in ("id", "state", "total")})
        if order.get("state") != "APPROVED":
            raise StepFailed(f"the order is {order.get('state')}, not APPROVED")
        customer_url = f"{self.gateway}/api/customers/{customer['id']}/"
        after = self.call("GET", customer_url, token=access, expect=[200]).json()
        self.show(available_credit=after.get("available_credit"))
        if after.get("available_credit") != "70.00":
            raise StepFailed("30.00 of 100.00 should be reserved")

        self.step("the reservation in the customers service, and who made it")
        reservations = self.call(
            "GET", f"{customer_url}reservations/", token=access, expect=[200]
        ).json()["results"]
        mine = [r for r in reservations if r.get("order_id") == order["id"]]
        if len(mine) != 1:
            raise StepFailed(f"expected one reservation, got {reservations}")
        self.show(**{k: mine[0].get(k) for k in ("order_id", "amount", "username")})
        self.show(actor=mine[0].get("actor"))
        if mine[0].get("actor") != "orders":
            raise StepFailed("the reservation should be made by the orders service")

        self.step("alice's own token may not write reservations: only orders may")
        refused = self.call(
            "POST",
            f"{customer_url}reservations/",
            token=access,
            json={"order_id": f"demo-{uuid.uuid4()}", "amount": "1.00"},
            expect=[403],
        )
        self.show(answer=refused.json())
        self.show(www_authenticate=refused.headers.get("WWW-Authenticate"))

        self.step("bob may not touch alice's order: it does not exist for him")
        bob = self.login("bob")
        refused = self.call(
            "POST",
            f"{self.gateway}/api/orders/{order['id']}/cancel/",
            token=bob,
            expect=[404],
        )
        self.show(answer=refused.json())
        state = self.call(
            "GET",
            f"{self.gateway}/api/orders/{order['id']}/",
            token=access,
            expect=[200],
        ).json()["state"]
        self.show(state_for_alice=state)
        if state != "APPROVED":
            raise StepFailed(f"bob's refused cancel left the order {state}")

        self.step("alice logs out everywhere")
        self.call(
            "POST",
            f"{self.gateway}/auth/logout/",
            token=access,
            json={"all": True},
            expect=[204, 205],
        )

        self.step("her old token is refused at the gateway at once")
        gone = self.call(
            "GET", f"{self.gateway}/api/orders/", token=access, expect=[401]
        )
        self.show(answer=gone.json())

        self.step("and by the orders service itself within seconds (revocation feed)")
        self.refused_at_service(access)

        self.step("a new login works: only tokens issued before the logout are refused")
        fresh = self.login("alice")
        self.call("GET", f"{self.gateway}/api/orders/", token=fresh, expect=[200])

    def refused_at_service(self, access: str) -> None:
        """Poll the orders service directly until it refuses ``access``."""
        url = f"{self.orders}/api/orders/"
        headers = {"Authorization": f"Bearer {access}"}
        self.say(f"   > GET {url} -H 'Authorization: Bearer {access[:12]}...'")
        start = time.monotonic()
        while True:
            response = self.session.get(url, headers=headers, timeout=TIMEOUT)
            waited = time.monotonic() - start
            if response.status_code == 401:
                self.say(f"   < 401 {response.reason} (after {waited:.1f} s)")
                self.show(answer=response.json())
                return
            if response.status_code != 200 or waited > REVOCATION_WAIT:
                raise StepFailed(
                    f"GET {url}: still {response.status_code} after {waited:.1f} s"
                )
            time.sleep(REVOCATION_POLL)


def main(argv: list[str] | None = None, out: TextIO = sys.stdout) -> int:
    """Run the walk; return 0 if every step behaved, else 1."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--gateway", default=os.environ.get("DEMO_GATEWAY", "http://127.0.0.1:8000")
    )
    parser.add_argument(
        "--orders", default=os.environ.get("DEMO_ORDERS", "http://127.0.0.1:8001")
    )
    args = parser.parse_args(argv)
    walk = Walk(gateway=args.gateway, orders=args.orders, out=out)
    walk.say(f"The story against the gateway {walk.gateway} (orders: {walk.orders})")
    try:
        walk.run()
    except StepFailed as failure:
        walk.say(f"\nFAILED at step {walk.number}: {failure}")
        return 1
    except requests.RequestException as error:
        walk.say(f"\nFAILED at step {walk.number}: {error}")
        walk.say("Is the stack running (make run)?")
        return 1
    walk.say("\nEvery step behaved.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
