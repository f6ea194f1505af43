"""The first five minutes: the banner of ``make run`` and ``make demo``.

A stack of its own: ``common.welcome`` gives alice a demo order and
``common.demo`` logs her out everywhere, which the shared stack's tests (alice
starts empty, her tokens stay valid) must not see.
"""

from __future__ import annotations

import http.server
import os
import queue
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from common import demo, welcome
from devstack.stack import ROOT, Stack, free_port

RULE = "-" * 72
HONCHO = Path(sys.executable).parent / "honcho"


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory):
    running = Stack(tmp_path_factory.mktemp("stack-newcomer"))
    try:
        yield running.setup()
    finally:
        running.close()


class Lines:
    """The output lines of a process, read by a thread so a wait can time out."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.queue: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, args=(proc.stdout,), daemon=True).start()

    def _read(self, stream) -> None:
        for line in stream:
            self.queue.put(line)
        self.queue.put(None)

    def until(self, pattern: str, timeout: float = 60) -> str:
        """Return the lines up to the next one matching ``pattern``."""
        taken: list[str] = []
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.queue.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            taken.append(line)
            self.seen.append(line)
            if re.search(pattern, line):
                return "".join(taken)
        raise AssertionError(f"no {pattern!r} in:\n{''.join(self.seen)}")

    def rest(self, timeout: float = 10) -> str:
        """Return every line until the process closes its output."""
        taken: list[str] = []
        while (line := self.queue.get(timeout=timeout)) is not None:
            taken.append(line)
        return "".join(taken)


def start_welcome(stack: Stack) -> tuple[subprocess.Popen, Lines]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "common.welcome"],
        cwd=ROOT,
        env=stack.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return proc, Lines(proc)


def banner_of(lines: Lines) -> str:
    """Return the banner (between its two rules)."""
    lines.until("^" + RULE)
    return lines.until("^" + RULE)


def alice_orders(stack: Stack) -> tuple[list[dict], list[dict]]:
    """Return alice's demo customers and the orders of the first one."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {stack.login('alice')['access']}"
    gateway = stack.url("gateway")
    customers = [
        c
        for c in session.get(f"{gateway}/api/customers/", timeout=10).json()["results"]
        if c["name"] == welcome.DEMO_CUSTOMER
    ]
    if not customers:
        return [], []
    orders = session.get(
        f"{gateway}/api/orders/",
        params={"customer_id": customers[0]["id"]},
        timeout=10,
    ).json()["results"]
    return customers, orders


# -- the banner ---------------------------------------------------------------------
def test_the_banner_comes_once_the_stack_answers_with_alice_order(own_stack):
    assert alice_orders(own_stack) == ([], [])  # seed_demo alone adds no order
    proc, lines = start_welcome(own_stack)
    try:
        text = banner_of(lines)
        gateway = own_stack.url("gateway")
        for expected in (
            f"Gateway: {gateway}",
            f"{gateway}/api-auth/login/?next=/api/orders/",
            f"{gateway}/admin/",
            f"{gateway}/api/docs/",
            "alice / alice-demo-pass (user)",
            "bob / bob-demo-pass (user)",
            "admin / admin-demo-pass (superuser (staff))",
            "make demo",
            "Ctrl-C",
        ):
            assert expected in text, text
        order_line = r"alice's order: +APPROVED, 120\.00 on the credit of her customer"
        assert re.search(order_line, text), text

        # The curl line works as pasted.
        [curl] = re.findall(r"A token: +(curl .*)$", text, re.M)
        answer = subprocess.run(
            shlex.split(curl), capture_output=True, text=True, timeout=30
        )
        assert '"access"' in answer.stdout, answer

        # alice's order is a real one: credit reserved in the customers service.
        [customer], [order] = alice_orders(own_stack)
        assert order["state"] == "APPROVED"
        assert order["total"] == "120.00"
        session = requests.Session()
        session.headers["Authorization"] = (
            f"Bearer {own_stack.login('alice')['access']}"
        )
        base = f"{own_stack.url('customers')}/api/customers/{customer['id']}/"
        assert Decimal(session.get(base, timeout=10).json()["available_credit"]) == (
            Decimal("380.00")
        )
        [reservation] = session.get(f"{base}reservations/", timeout=10).json()[
            "results"
        ]
        assert reservation["order_id"] == order["id"]
        assert reservation["username"] == "alice"
        assert reservation["actor"] == "orders"

        # Once only: the process then idles (honcho would stop all if it exited).
        time.sleep(1)
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    assert lines.rest().count(RULE) == 0  # no second banner


def test_a_second_run_makes_no_second_order(own_stack):
    for stop in (signal.SIGINT, signal.SIGTERM):
        proc, lines = start_welcome(own_stack)
        try:
            text = banner_of(lines)
        finally:
            proc.send_signal(stop)
        assert proc.wait(timeout=10) == 0
        assert "Traceback" not in lines.rest()
        assert "APPROVED" in text
    customers, orders = alice_orders(own_stack)
    assert len(customers) == 1
    assert len(orders) == 1


def make_run_procfile(directory: Path, ports: dict[str, int]) -> Path:
    """Return the repository's Procfile with each server bound to ``ports``."""
    lines = []
    for line in (ROOT / "Procfile").read_text().splitlines():
        name = line.split(":", 1)[0]
        if name in ports:
            line += f" --bind 127.0.0.1:{ports[name]}"
        lines.append(line)
    procfile = directory / "Procfile"
    procfile.write_text("\n".join(lines) + "\n")
    return procfile


def test_make_run_prints_the_banner_after_boot_and_ctrl_c_stops_all(
    own_stack, tmp_path
):
    """``make run``'s Procfile under honcho, on free ports and own_stack's data."""
    ports = {name: free_port() for name in ("gateway", "orders", "customers")}
    url = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    env = {
        **own_stack.env,
        "DJANGO_DEBUG": "1",
        "WEB_CONCURRENCY": "1",
        "JWT_ISSUER": url["gateway"],
        "ORDERS_SERVICE_URL": url["orders"],
        "CUSTOMERS_SERVICE_URL": url["customers"],
    }
    procfile = make_run_procfile(tmp_path, ports)
    honcho = subprocess.Popen(
        [str(HONCHO), "start", "-f", str(procfile), "-d", str(ROOT), "--no-colour"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines = Lines(honcho)
    try:
        output = lines.until(RULE, timeout=90)
        banner = lines.until(RULE)
        assert f"Gateway: {url['gateway']}" in banner
        assert "alice's order:  APPROVED" in banner
        for name in ports:  # the banner comes after every project booted
            # gunicorn's "Booting worker", granian's "Started worker-1"
            assert re.search(rf"{name}\.1 .*(Booting|Started) worker", output), output
        pids = [int(pid) for pid in re.findall(r"started \(pid=(\d+)\)", output)]
        assert len(pids) == 4, output
        time.sleep(1)
        assert honcho.poll() is None
        # Ctrl-C: the terminal sends SIGINT to the whole foreground group.
        os.killpg(honcho.pid, signal.SIGINT)
        honcho.wait(timeout=30)
    finally:
        if honcho.poll() is None:
            os.killpg(honcho.pid, signal.SIGKILL)
            honcho.wait()
    rest = lines.rest()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    for base in url.values():
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{base}/healthz", timeout=2)
    assert rest.count(RULE) == 0  # one banner
    assert "Traceback" not in output + banner + rest


def test_no_banner_until_every_project_answers(own_stack):
    urls = {
        "gateway": own_stack.url("gateway"),
        "gone": f"http://127.0.0.1:{free_port()}",
    }
    slept: list[float] = []
    missing = welcome.stack_wait(urls, timeout=0.5, sleep=slept.append)
    assert missing == ["gone"]
    assert slept  # it retried before giving up
    assert welcome.stack_wait({"gateway": own_stack.url("gateway")}) == []


class _HealthyButBroken(http.server.BaseHTTPRequestHandler):
    """Answers /healthz and fails everything else, like a half-migrated stack."""

    def do_GET(self) -> None:  # noqa: N802 - the http.server hook
        self.send_response(200 if self.path == "/healthz" else 503)
        self.end_headers()

    do_POST = do_GET  # noqa: N815

    def log_message(self, *args) -> None:
        pass


def test_a_failed_seed_still_prints_the_banner_and_keeps_the_stack_up():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HealthyButBroken)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    env = {
        **os.environ,
        "JWT_ISSUER": url,
        "ORDERS_SERVICE_URL": url,
        "CUSTOMERS_SERVICE_URL": url,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "common.welcome"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = Lines(proc)
    try:
        text = banner_of(lines)
        assert "alice's order:  could not be created:" in text
        assert "503" in text
        time.sleep(0.5)
        assert proc.poll() is None  # exiting would make honcho stop the stack
    finally:
        proc.send_signal(signal.SIGINT)
        server.shutdown()
    assert proc.wait(timeout=10) == 0


# -- make demo -----------------------------------------------------------------
def run_demo(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "common.demo", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_make_demo_walks_the_story(own_stack):
    result = run_demo(
        "--gateway", own_stack.url("gateway"), "--orders", own_stack.url("orders")
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for expected in (
        '"alg": "RS256"',
        "username: alice",
        "verified: signature checked with key",
        "state: APPROVED",
        "available_credit: 70.00",
        "username: alice",
        "actor: orders",
        "< 403",
        "insufficient_scope",
        "< 404",
        "state_for_alice: APPROVED",
        "< 401",
        "Every step behaved.",
    ):
        assert expected in out, out
    assert re.search(r"< 401 .*\(after \d+\.\d s\)", out), out
    # alice's old token was refused at the gateway and at the service; a new one works.
    assert own_stack.login("alice")["access"]


def test_make_demo_fails_when_a_step_misbehaves(own_stack):
    # No orders service where the walk looks for it: the last steps cannot pass.
    result = run_demo(
        "--gateway",
        own_stack.url("gateway"),
        "--orders",
        f"http://127.0.0.1:{free_port()}",
    )
    assert result.returncode == 1
    assert "FAILED at step 10" in result.stdout, result.stdout


def test_make_demo_without_a_stack_says_so():
    port = free_port()
    result = run_demo("--gateway", f"http://127.0.0.1:{port}")
    assert result.returncode == 1
    assert "FAILED at step 1" in result.stdout
    assert "make run" in result.stdout


def test_the_demo_step_checks_the_status_it_expects(own_stack):
    """A refused write that is suddenly allowed fails the walk."""
    walk = demo.Walk(gateway=own_stack.url("gateway"), orders=own_stack.url("orders"))
    with pytest.raises(demo.StepFailed, match="expected 404, got 200"):
        walk.call("GET", f"{own_stack.url('gateway')}/healthz", expect=[404])


def test_make_demo_target_runs_the_module():
    dry = subprocess.run(
        ["make", "-n", "demo", "DEMO_GATEWAY=http://gw:1", "DEMO_ORDERS=http://o:2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert dry.returncode == 0, dry.stderr
    assert "-m common.demo --gateway http://gw:1 --orders http://o:2" in dry.stdout
