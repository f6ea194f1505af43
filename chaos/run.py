"""``make chaos``: the real stack under load and scheduled faults, then invariants.

    python -m chaos.run [--duration 300] [--clients 6] [--seed N]

Runs gateway, orders and customers under gunicorn (two workers each) on their
own PostgreSQL cluster and Redis server (chaos/infra.py, free loopback ports),
drives a steady mixed load through the gateway (logins, refreshes, reads,
orders with and without Idempotency-Key, cancels) and, on a schedule, kills -9
a worker of each project, restarts orders and customers, stops Redis for 20 s,
restarts PostgreSQL and rotates the signing key. Then it runs the reconciler,
checks the invariants (docs/operations.md "Chaos run") and prints them with the
figures. Exit status 1 if an invariant failed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests

from chaos.infra import Postgres, Redis
from devstack.stack import PASSWORDS, PROJECTS, Stack, is_internal_listener

# Every status the contract documents, besides 2xx (CONTRACT.md "Errors").
DOCUMENTED = {400, 401, 403, 404, 409, 413, 429, 502, 503, 504}
USERS = ("alice", "bob")
CUSTOMERS_PER_USER = 3
CREDIT_LIMIT = Decimal("400.00")
TIMEOUT = 20


@dataclass
class ChaosStack(Stack):
    """A ``Stack`` whose databases live on the run's own PostgreSQL cluster."""

    pg: Postgres | None = None

    def _database_url(self, name: str) -> str:
        return self.pg.url(f"{self.tag}_{name}")

    def setup(self) -> ChaosStack:
        for name in PROJECTS:
            self.pg.create_database(f"{self.tag}_{name}")
        return super().setup()

    def workers(self, name: str) -> list[int]:
        """Return the pids of project ``name``'s workers (not the gateway's
        internal listener, a server of its own)."""
        pid = self.processes[name].pid
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        except OSError:
            return []
        return [int(p) for p in children.split() if not is_internal_listener(int(p))]


@dataclass
class Result:
    """One request of the load: what, when, and how it ended."""

    op: str
    group: str
    status: int | str
    started: float
    ended: float
    request_id: str = ""


@dataclass
class Figures:
    """Everything the load saw."""

    results: list[Result] = field(default_factory=list)
    # Idempotency-Key -> the order ids its 2xx answers named.
    keys: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, result: Result) -> None:
        with self.lock:
            self.results.append(result)


class Client:
    """One simulated user session through the gateway."""

    def __init__(self, gateway: str, username: str, figures: Figures, rng) -> None:
        self.gateway = gateway
        self.username = username
        self.figures = figures
        self.rng = rng
        self.http = requests.Session()
        self.access = self.refresh = ""
        self.customers: list[int] = []
        self.approved: list[str] = []
        self.last_status: int | str | None = None

    def call(self, op: str, group: str, method: str, path: str, **kwargs: Any):
        """Send one request; record it; return the response or None."""
        started = time.monotonic()
        headers = kwargs.pop("headers", {})
        if self.access and path.startswith("/api/"):
            headers["Authorization"] = f"Bearer {self.access}"
        try:
            response = self.http.request(
                method, self.gateway + path, headers=headers, timeout=TIMEOUT, **kwargs
            )
            status: int | str = response.status_code
        except requests.Timeout:
            response, status = None, "timeout"
        except requests.ConnectionError:
            response, status = None, "connection_error"
            self.http = requests.Session()
        request_id = response.headers.get("X-Request-ID", "") if response else ""
        self.figures.add(
            Result(op, group, status, started, time.monotonic(), request_id)
        )
        self.last_status = status
        return response

    def login(self) -> bool:
        response = self.call(
            "login",
            "auth",
            "POST",
            "/auth/token/",
            json={"username": self.username, "password": PASSWORDS[self.username]},
        )
        if response is not None and response.status_code == 200:
            tokens = response.json()
            self.access, self.refresh = tokens["access"], tokens["refresh"]
            return True
        return False

    def refresh_tokens(self) -> None:
        response = self.call(
            "refresh",
            "auth",
            "POST",
            "/auth/token/refresh/",
            json={"refresh": self.refresh},
        )
        if response is not None and response.status_code == 200:
            tokens = response.json()
            self.access, self.refresh = tokens["access"], tokens["refresh"]
        elif response is not None and response.status_code == 401:
            self.login()

    def order(self, *, keyed: bool) -> None:
        body = {
            "customer_id": self.rng.choice(self.customers),
            "total": f"{self.rng.randint(1, 60)}.00",
        }
        key = uuid.uuid4().hex if keyed else None
        headers = {"Idempotency-Key": key} if key else {}
        # A client with a key retries what may not have been applied, and now
        # and then repeats a success to see the replay.
        for attempt in range(4 if key else 1):
            response = self.call(
                "order_key" if key else "order",
                "orders",
                "POST",
                "/api/orders/",
                json=body,
                headers=dict(headers),
            )
            status = response.status_code if response is not None else None
            if status in (200, 201):
                data = response.json()
                if key:
                    with self.figures.lock:
                        self.figures.keys[key].add(data["id"])
                if data.get("state") == "APPROVED":
                    self.approved.append(data["id"])
                if not key or attempt or self.rng.random() > 0.3:
                    return
            elif status is not None and status < 500 and status != 409:
                return
            time.sleep(0.3)

    def cancel(self) -> None:
        if not self.approved:
            return
        order_id = self.approved.pop(self.rng.randrange(len(self.approved)))
        self.call("cancel", "orders", "POST", f"/api/orders/{order_id}/cancel/")

    def step(self) -> None:
        """Do one operation, chosen at random with the load's weights."""
        if not self.access and not self.login():
            time.sleep(0.2)
            return
        roll = self.rng.random()
        if roll < 0.04:
            self.login()
        elif roll < 0.12:
            self.refresh_tokens()
        elif roll < 0.30:
            self.call("read_orders", "orders", "GET", "/api/orders/")
        elif roll < 0.48:
            customer = self.rng.choice(self.customers)
            self.call(
                "read_customer", "customers", "GET", f"/api/customers/{customer}/"
            )
        elif roll < 0.66:
            self.order(keyed=False)
        elif roll < 0.88:
            self.order(keyed=True)
        else:
            self.cancel()
        if self.last_status == 401:
            self.login()


# -- faults -----------------------------------------------------------------------
def kill_worker(stack: ChaosStack, name: str) -> Callable[[], None]:
    def fault() -> None:
        workers = stack.workers(name)
        if workers:
            os.kill(workers[0], signal.SIGKILL)

    return fault


def restart(stack: ChaosStack, name: str) -> Callable[[], None]:
    def fault() -> None:
        stack.stop(name)
        stack.start(name)

    return fault


def redis_pause(redis: Redis, seconds: float) -> Callable[[], None]:
    def fault() -> None:
        redis.stop()
        time.sleep(seconds)
        redis.start()

    return fault


def schedule(stack: ChaosStack, pg: Postgres, redis: Redis, duration: float):
    """Return ``[(seconds from start, name, fault)]``."""
    faults = [
        (0.08, "kill -9 gateway worker", kill_worker(stack, "gateway")),
        (0.14, "kill -9 orders worker", kill_worker(stack, "orders")),
        (0.20, "kill -9 customers worker", kill_worker(stack, "customers")),
        (0.28, "restart orders", restart(stack, "orders")),
        (0.38, "restart customers", restart(stack, "customers")),
        (0.48, "stop redis", redis_pause(redis, min(20.0, duration * 0.12))),
        (0.68, "restart postgresql", pg.restart),
        (
            0.80,
            "rotate signing key",
            lambda: stack.manage("gateway", "rotate_signing_key"),
        ),
    ]
    return [(fraction * duration, name, fault) for fraction, name, fault in faults]


def longest_outages(
    results: list[Result], faults: list[tuple[str, float]], end: float
) -> dict[str, dict]:
    """Return, per fault, the longest time any group of requests saw no 2xx.

    Measured from the fault until the next one: the largest gap between two
    successive successes of the same group (auth, orders, customers).
    """
    outages = {}
    bounds = [t for _, t in faults[1:]] + [end]
    for (name, start), stop in zip(faults, bounds, strict=True):
        worst, worst_group = 0.0, "-"
        for group in ("auth", "orders", "customers"):
            times = sorted(
                r.ended
                for r in results
                if r.group == group
                and isinstance(r.status, int)
                and 200 <= r.status < 300
                and start <= r.ended < stop
            )
            previous = start
            for moment in [*times, stop if not times else times[-1]]:
                if moment - previous > worst:
                    worst, worst_group = moment - previous, group
                previous = moment
        outages[name] = {"seconds": round(worst, 2), "group": worst_group}
    return outages


# -- invariants ---------------------------------------------------------------------
def database_rows(stack: ChaosStack, project: str, sql: str) -> list[tuple]:
    import psycopg

    with psycopg.connect(stack.pg.url(f"{stack.tag}_{project}")) as conn:
        return conn.execute(sql).fetchall()


def check_invariants(
    stack: ChaosStack, figures: Figures
) -> dict[str, tuple[bool, str]]:
    """Return ``{invariant: (held, detail)}``."""
    checks: dict[str, tuple[bool, str]] = {}
    customers = database_rows(
        stack, "customers", "SELECT id, credit_limit FROM customers_customer"
    )
    reservations = database_rows(
        stack,
        "customers",
        "SELECT customer_id, order_id, amount FROM customers_reservation",
    )
    approved = {
        str(order_id): customer_id
        for order_id, customer_id in database_rows(
            stack,
            "orders",
            "SELECT id, customer_id FROM orders_order WHERE state = 'APPROVED'",
        )
    }
    pending = database_rows(
        stack, "orders", "SELECT count(*) FROM orders_order WHERE state = 'PENDING'"
    )[0][0]
    admin = stack.login("admin")["access"]
    bad_credit = []
    for customer_id, limit in customers:
        held = sum((a for c, _, a in reservations if c == customer_id), Decimal("0"))
        shown = requests.get(
            f"{stack.url('gateway')}/api/customers/{customer_id}/",
            headers={"Authorization": f"Bearer {admin}"},
            timeout=TIMEOUT,
        ).json()
        if held > limit or Decimal(str(shown["available_credit"])) != limit - held:
            bad_credit.append(customer_id)
    checks["available = limit - live reservations, never negative"] = (
        not bad_credit,
        f"{len(customers)} customers; wrong: {bad_credit}",
    )
    per_order = Counter(order_id for _, order_id, _ in reservations)
    unreserved = [
        o
        for o, c in approved.items()
        if per_order[o] != 1 or (c, o) not in {(r[0], r[1]) for r in reservations}
    ]
    checks["every APPROVED order has exactly one reservation"] = (
        not unreserved,
        f"{len(approved)} approved; without one: {unreserved[:5]}",
    )
    orphans = [o for c, o, _ in reservations if approved.get(o) != c]
    checks["every reservation belongs to an APPROVED order"] = (
        not orphans,
        f"{len(reservations)} reservations; orphans: {orphans[:5]}",
    )
    doubled = {k: v for k, v in figures.keys.items() if len(v) > 1}
    checks["no Idempotency-Key produced two orders"] = (
        not doubled,
        f"{len(figures.keys)} keys; doubled: {list(doubled)[:5]}",
    )
    statuses = Counter(r.status for r in figures.results)
    checks["no 500"] = (not statuses.get(500), f"500s: {statuses.get(500, 0)}")
    odd = sorted(
        str(s)
        for s in statuses
        if isinstance(s, int) and not 200 <= s < 300 and s not in DOCUMENTED
    )
    checks["every non-2xx is a documented status"] = (not odd, f"others: {odd}")
    ready = {name: _ready(stack, name) for name in PROJECTS}
    checks["/readyz OK at the end"] = (all(ready.values()), str(ready))
    checks["no order left PENDING after the reconciler"] = (
        pending == 0,
        f"PENDING: {pending}",
    )
    return checks


def _ready(stack: ChaosStack, name: str, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{stack.url(name)}/readyz", timeout=5).status_code == 200:
                return True
        except requests.RequestException:
            pass
        time.sleep(0.5)
    return False


# -- the run ------------------------------------------------------------------------
def seed_customers(stack: ChaosStack, clients: list[Client]) -> None:
    """Give each user its customers (created through the gateway)."""
    made: dict[str, list[int]] = {}
    for username in USERS:
        access = stack.login(username)["access"]
        made[username] = [
            requests.post(
                f"{stack.url('gateway')}/api/customers/",
                json={"name": f"{username}-{i}", "credit_limit": str(CREDIT_LIMIT)},
                headers={"Authorization": f"Bearer {access}"},
                timeout=TIMEOUT,
            ).json()["id"]
            for i in range(CUSTOMERS_PER_USER)
        ]
    for client in clients:
        client.customers = made[client.username]


def run(duration: float, n_clients: int, seed: int, logs: str | None = None) -> int:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="chaos-") as tmp:
        workdir = Path(tmp)
        pg, redis = Postgres(workdir), Redis(workdir)
        stack: ChaosStack | None = None
        try:
            pg.start()
            redis.start()
            stack = ChaosStack(
                workdir / "stack",
                "chaos",
                extra_env={
                    "REDIS_URL": redis.url,
                    "E2E_WORKERS": "2",
                    "E2E_THREADS": "8",
                    "CACHE_KEY_PREFIX": "chaos",
                },
                pg=pg,
            )
            print(f"chaos: postgres :{pg.port}, redis :{redis.port}", flush=True)
            stack.setup()
            figures = Figures()
            clients = [
                Client(
                    stack.url("gateway"),
                    USERS[i % 2],
                    figures,
                    random.Random(rng.random()),
                )
                for i in range(n_clients)
            ]
            seed_customers(stack, clients)
            stop = threading.Event()

            def drive(client: Client) -> None:
                while not stop.is_set():
                    client.step()

            threads = [threading.Thread(target=drive, args=(c,)) for c in clients]
            started = time.monotonic()
            for thread in threads:
                thread.start()
            done: list[tuple[str, float]] = []
            for at, name, fault in schedule(stack, pg, redis, duration):
                time.sleep(max(0.0, started + at - time.monotonic()))
                print(f"chaos: t={time.monotonic() - started:5.1f}s {name}", flush=True)
                done.append((name, time.monotonic()))
                fault()
            time.sleep(max(0.0, started + duration - time.monotonic()))
            stop.set()
            for thread in threads:
                thread.join(timeout=TIMEOUT + 10)
            end = time.monotonic()
            for name in PROJECTS:
                _ready(stack, name)
            # The reconciler gets the orders client's own token: seed_demo
            # provisioned it with the secret kept in this stack's VAR_DIR.
            reconciled = stack.manage(
                "orders", "reconcile_reservations", "--grace", "5"
            )
            print(f"chaos: reconciler: {reconciled.strip()}", flush=True)
            checks = check_invariants(stack, figures)
            report(figures, checks, longest_outages(figures.results, done, end), done)
            print_server_errors(stack, figures)
            return 0 if all(held for held, _ in checks.values()) else 1
        finally:
            if stack is not None:
                if logs:
                    Path(logs).mkdir(parents=True, exist_ok=True)
                    for name in PROJECTS:
                        shutil.copy(stack.log_path(name), Path(logs) / f"{name}.log")
                stack.close()
            redis.stop()
            pg.stop()


def report(
    figures: Figures, checks: dict, outages: dict, faults: list[tuple[str, float]]
) -> None:
    statuses = Counter(str(r.status) for r in figures.results)
    errors = Counter(
        f"{r.op} {r.status}"
        for r in figures.results
        if not (isinstance(r.status, int) and 200 <= r.status < 300)
    )
    print("\n== figures ==")
    print(f"requests sent: {len(figures.results)}")
    print(f"by status: {json.dumps(dict(sorted(statuses.items())))}")
    print("non-2xx by kind:")
    for kind, count in errors.most_common():
        print(f"  {kind}: {count}")
    print("non-2xx after each fault (until the next):")
    bounds = [t for _, t in faults[1:]] + [float("inf")]
    for (name, start), stop in zip(faults, bounds, strict=True):
        seen = Counter(
            str(r.status)
            for r in figures.results
            if start <= r.ended < stop
            and not (isinstance(r.status, int) and 200 <= r.status < 300)
        )
        print(f"  {name}: {json.dumps(dict(sorted(seen.items())))}")
    print("longest outage per fault:")
    for name, outage in outages.items():
        print(f"  {name}: {outage['seconds']} s ({outage['group']})")
    print("\n== invariants ==")
    for name, (held, detail) in checks.items():
        print(f"  [{'OK' if held else 'FAIL'}] {name} ({detail})")
    print(flush=True)


def print_server_errors(stack: ChaosStack, figures: Figures, most: int = 3) -> None:
    """Print the first ``most`` 500s with the error each project logged for
    their request id (the line and the traceback after it)."""
    logs = {
        name: stack.log_path(name).read_text(errors="replace").splitlines()
        for name in PROJECTS
    }
    failed = [r for r in figures.results if r.status == 500]
    for result in failed[:most]:
        print(f"== 500 on {result.op} (request id {result.request_id or '?'}) ==")
        for name, lines in logs.items():
            for i, line in enumerate(lines):
                if result.request_id and result.request_id in line and "ERROR" in line:
                    print("\n".join(f"  {name}: {text}" for text in lines[i : i + 30]))
                    break
    print(flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=300.0, help="seconds")
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument(
        "--logs", help="copy the three projects' logs to this directory"
    )
    args = parser.parse_args(argv)
    print(f"chaos: {args.duration:.0f} s, {args.clients} clients, seed {args.seed}")
    return run(args.duration, args.clients, args.seed, args.logs)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except subprocess.CalledProcessError as exc:
        print(exc.stderr, file=sys.stderr)
        raise
