"""``python -m common.welcome``: the last process of ``make run`` (Procfile).

It waits until the gateway, orders and customers all answer ``/healthz``, gives
alice a demo customer and one approved order through the gateway (so the
reservation is a real one, made by the real services), prints one banner, then
idles until it is stopped: honcho stops every process as soon as one exits, so
exiting would take the stack down. SIGINT and SIGTERM (Ctrl-C) end it quietly.

The base URLs are the stack's own variables (``JWT_ISSUER`` is the gateway).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable, Mapping
from typing import TextIO

import requests

from common.demo import PASSWORDS, USERS

TIMEOUT = 5.0
WAIT_FOR_STACK = 120.0
DEMO_CUSTOMER = "Alice's shop (demo)"
DEMO_CREDIT_LIMIT = "500.00"
DEMO_ORDER_TOTAL = "120.00"


def stack_urls(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """Return the base URLs of the three projects, from the stack's variables."""
    urls = {
        "gateway": environ.get("JWT_ISSUER", "http://127.0.0.1:8000"),
        "orders": environ.get("ORDERS_SERVICE_URL", "http://127.0.0.1:8001"),
        "customers": environ.get("CUSTOMERS_SERVICE_URL", "http://127.0.0.1:8002"),
    }
    return {name: url.rstrip("/") for name, url in urls.items()}


def stack_wait(
    urls: dict[str, str],
    *,
    timeout: float = WAIT_FOR_STACK,
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """Wait until every project answers ``/healthz``; return those that never did."""
    waiting = dict(urls)
    deadline = time.monotonic() + timeout
    while waiting:
        for name, url in list(waiting.items()):
            try:
                if requests.get(f"{url}/healthz", timeout=1).ok:
                    del waiting[name]
            except requests.RequestException:
                pass
        if not waiting or time.monotonic() > deadline:
            break
        sleep(0.2)
    return sorted(waiting)


def _checked(response: requests.Response, *expected: int) -> dict:
    if response.status_code not in expected:
        raise RuntimeError(
            f"{response.request.method} {response.url}: "
            f"{response.status_code} {response.text[:200]}"
        )
    return response.json()


def alice_order_ensure(gateway: str) -> dict:
    """Return alice's demo order, creating it and its customer if missing.

    Idempotent: the customer is looked up by name, the order by customer, and
    the create carries an ``Idempotency-Key`` so a retry cannot make a second.
    """
    session = requests.Session()
    login = session.post(
        f"{gateway}/auth/token/",
        json={"username": "alice", "password": PASSWORDS["alice"]},
        timeout=TIMEOUT,
    )
    session.headers["Authorization"] = f"Bearer {_checked(login, 200)['access']}"
    customers = _checked(
        session.get(
            f"{gateway}/api/customers/", params={"page_size": 100}, timeout=TIMEOUT
        ),
        200,
    )["results"]
    customer = next((c for c in customers if c["name"] == DEMO_CUSTOMER), None)
    if customer is None:
        customer = _checked(
            session.post(
                f"{gateway}/api/customers/",
                json={"name": DEMO_CUSTOMER, "credit_limit": DEMO_CREDIT_LIMIT},
                timeout=TIMEOUT,
            ),
            201,
        )
    orders = _checked(
        session.get(
            f"{gateway}/api/orders/",
            params={"customer_id": customer["id"]},
            timeout=TIMEOUT,
        ),
        200,
    )["results"]
    if orders:
        return orders[0]
    return _checked(
        session.post(
            f"{gateway}/api/orders/",
            json={"customer_id": customer["id"], "total": DEMO_ORDER_TOTAL},
            headers={"Idempotency-Key": f"seed-demo-customer-{customer['id']}"},
            timeout=TIMEOUT,
        ),
        200,
        201,
    )


def banner(urls: dict[str, str], order_line: str) -> str:
    """Return the banner: where to go, who to be, how to get a token."""
    gateway = urls["gateway"]
    users = ", ".join(f"{u} / {p} ({role})" for u, p, role in USERS)
    curl = (
        f"curl -s -X POST {gateway}/auth/token/ -H 'Content-Type: application/json'"
        ' -d \'{"username": "alice", "password": "%s"}\'' % PASSWORDS["alice"]
    )
    rule = "-" * 72
    return "\n".join(
        [
            rule,
            f"The stack is up. Gateway: {gateway}",
            f"  Browse the API: {gateway}/api-auth/login/?next=/api/orders/",
            f"  Admin:          {gateway}/admin/",
            f"  API docs:       {gateway}/api/docs/ (every service, via the gateway)",
            f"  Demo users:     {users}",
            f"  alice's order:  {order_line}",
            f"  A token:        {curl}",
            "  The story:      make demo (in another terminal; docs/quickstart.md)",
            "  Ctrl-C stops everything.",
            rule,
        ]
    )


def _stop(signum: int, frame: object) -> None:
    raise SystemExit(0)


def main(out: TextIO = sys.stdout) -> int:
    """Wait for the stack, seed alice's order, print the banner, idle until stopped."""
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    urls = stack_urls()
    missing = stack_wait(urls)
    if missing:
        print(
            f"welcome: {', '.join(missing)} did not answer /healthz; no banner.",
            file=out,
            flush=True,
        )
    else:
        try:
            order = alice_order_ensure(urls["gateway"])
            order_line = (
                f"{order['state']}, {order['total']} on the credit of her "
                f"customer {DEMO_CUSTOMER!r}"
            )
        except Exception as error:  # noqa: BLE001 - exiting would stop the stack
            order_line = f"could not be created: {error}"
        print(banner(urls, order_line), file=out, flush=True)
    while True:  # honcho stops the whole stack when one process exits
        signal.pause()


if __name__ == "__main__":
    sys.exit(main())
