"""``make bench``: measure the stack as production runs it, print and save a table.

Starts gateway, orders and customers as production runs them (``common.serve``:
the gateway under granian, the services under gunicorn gthread; DEBUG off, 2
workers x 4 threads) on free ports, seeds a customer and an order
over HTTP, warms up, then measures, alternating the variants within each
repetition:

- ``direct``: GET /api/orders/{id}/ straight to the orders service;
- ``gateway``: the same through the gateway, with a bearer token;
- ``nginx``: the same through nginx in front of orders (when nginx is installed);
- ``gateway_post``: POST /api/orders/ through the gateway (gateway, orders,
  customers);
- ``gateway_nometrics`` and ``gateway_traced``: the gateway GET through one
  more gateway process with metrics off, and one with tracing on exporting to
  a local OTLP receiver (bench/observability.py), to print what metrics and
  tracing cost (docs/observability.md);

each at 1 and 16 connections, with wrk (or a Python generator without it). It
also times one token verification on the service side and counts its database
queries. Results go to ``var/bench/latest.json`` and a dated copy.

Usage: ``python -m bench.run [--duration 5] [--repeats 3] [--profile] ...``
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import requests

from bench import harness, load
from bench.nginx import Nginx
from bench.observability import ExtraGateways
from devstack.stack import PROJECTS, ROOT, Stack, free_port, is_internal_listener

OUT_DIR = ROOT / "var" / "bench"
USER = "alice"
TIMEOUT = 10
# Refresh the 5-minute access token well before it expires.
TOKEN_MAX_AGE = 60.0
CREDIT_LIMITS = ("1000000.00", "100000.00", "10000.00")
ORDER_TOTAL = "0.01"
NOISY_PCT = 20
# A run where one gunicorn worker of a service used this share of the service's
# CPU: that service ran on one core (see harness.busiest_share_pct).
LOPSIDED_PCT = 90
SERVICES_ON_PATH = {
    "direct": ("orders",),
    "nginx": ("orders",),
    "gateway": ("gateway", "orders"),
    "gateway_post": ("gateway", "orders", "customers"),
    "gateway_nometrics": ("gateway_nometrics", "orders"),
    "gateway_traced": ("gateway_traced", "orders"),
}
PROJECT_PACKAGES = ("gateway_project/", "shared_auth/", "common/", "orders_service/")


@dataclass
class Tokens:
    """The bench user's access token, refreshed (rotating) when it gets old."""

    stack: Stack
    access: str = ""
    refresh: str = ""
    issued: float = 0.0

    def get(self) -> str:
        """Return an access token younger than ``TOKEN_MAX_AGE`` seconds."""
        if time.monotonic() - self.issued < TOKEN_MAX_AGE:
            return self.access
        pair = None
        if self.refresh:
            response = requests.post(
                f"{self.stack.url('gateway')}/auth/token/refresh/",
                json={"refresh": self.refresh},
                timeout=TIMEOUT,
            )
            pair = response.json() if response.status_code == 200 else None
        try:
            pair = pair or self.stack.login(USER)
        except requests.HTTPError as exc:
            if exc.response.status_code != 404:
                raise
            print("!! POST /auth/token/ is missing: running without a token")
            self.issued = float("inf")  # never retry
            return ""
        self.access = pair["access"]
        self.refresh = pair.get("refresh", self.refresh)
        self.issued = time.monotonic()
        return self.access


@dataclass
class Plan:
    """What to measure: each GET variant's URL, the POST's URL and body."""

    urls: dict[str, str]
    post_url: str = ""
    post_body: str = ""
    mode: str = "orders"
    skipped: dict[str, str] = field(default_factory=dict)

    def target(self, variant: str, token: str) -> load.Target:
        """Return the request of ``variant`` carrying ``token``."""
        if variant == "gateway_post":
            return load.Target(self.post_url, "POST", token, self.post_body)
        return load.Target(self.urls[variant], "GET", token)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="make bench", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--duration", type=float, default=5.0, help="s per run")
    parser.add_argument("--repeats", type=int, default=3, help="runs per variant")
    parser.add_argument("--warmup", type=float, default=2.0, help="s per variant")
    parser.add_argument("--connections", default="1,16", help="e.g. 1,16")
    parser.add_argument(
        "--variants",
        default=",".join(harness.VARIANTS),
        help="which to measure, e.g. direct,gateway (a quicker focused run)",
    )
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--workers", type=int, default=2, help="workers per project")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker")
    parser.add_argument(
        "--load", choices=("auto", "wrk", "python"), default="auto", help="generator"
    )
    parser.add_argument(
        "--no-install", action="store_true", help="never apt-get install wrk"
    )
    parser.add_argument(
        "--profile",
        nargs="?",
        const="gateway",
        choices=("gateway", "gateway_post", "direct"),
        help="after the table, profile the gateway (orders for direct) with py-spy",
    )
    parser.add_argument(
        "--rss-requests",
        type=int,
        default=100_000,
        help="gateway RSS per worker after 1k and after this many proxied "
        "requests, on a restarted gateway (0: skip)",
    )
    parser.add_argument("--keep", action="store_true", help="keep logs and databases")
    args = parser.parse_args(argv)
    args.connections = [int(c) for c in args.connections.split(",") if c]
    args.variants = [v for v in args.variants.split(",") if v]
    unknown = set(args.variants) - set(harness.VARIANTS)
    if unknown:
        parser.error(f"unknown variant(s) {', '.join(sorted(unknown))}")
    return args


# -- seeding ---------------------------------------------------------------------
def seed(stack: Stack, token: str) -> tuple[int, int] | None:
    """Create a customer and one order as the bench user over HTTP.

    Return ``(customer_id, order_id)``, or None when the services' APIs are not
    there (404/405): the bench then does a dry run on ``/healthz``.
    """
    headers = {"Authorization": f"Bearer {token}"}
    customer = None
    for limit in CREDIT_LIMITS:
        response = requests.post(
            f"{stack.url('customers')}/api/customers/",
            json={"name": "bench customer", "credit_limit": limit},
            headers=headers,
            timeout=TIMEOUT,
        )
        if response.status_code in (404, 405):
            return None
        if response.status_code == 201:
            customer = response.json()
            break
    if customer is None:
        raise RuntimeError(
            f"cannot create a customer: {response.status_code} {response.text}"
        )
    response = requests.post(
        f"{stack.url('orders')}/api/orders/",
        json={"customer_id": customer["id"], "total": ORDER_TOTAL},
        headers=headers,
        timeout=TIMEOUT,
    )
    if response.status_code in (404, 405):
        return None
    if response.status_code != 201:
        raise RuntimeError(
            f"cannot create an order: {response.status_code} {response.text}"
        )
    return customer["id"], response.json()["id"]


def plan(
    stack: Stack,
    token: str,
    nginx_url: str | None,
    extra_urls: dict[str, str] | None = None,
) -> Plan:
    """Seed the data and return the URLs to load, checking each answers."""
    bases = {"direct": stack.url("orders"), "gateway": stack.url("gateway")}
    if nginx_url:
        bases["nginx"] = nginx_url
    bases.update(extra_urls or {})
    seeded = seed(stack, token) if token else None
    if seeded is None:
        print("!! login or the orders/customers APIs missing: DRY RUN on /healthz")
        result = Plan(
            {v: f"{base}/healthz" for v, base in bases.items()}, mode="healthz"
        )
        result.skipped["gateway_post"] = "orders API missing"
        return result
    customer_id, order_id = seeded
    result = Plan(
        {v: f"{base}/api/orders/{order_id}/" for v, base in bases.items()},
        post_url=f"{stack.url('gateway')}/api/orders/",
        post_body=json.dumps({"customer_id": customer_id, "total": ORDER_TOTAL}),
    )
    check(result, token)
    if any(": 5" in reason for reason in result.skipped.values()):
        for name in ("gateway", "orders"):
            tail = stack.log_path(name).read_text()[-2000:]
            print(f"--- {name} log (tail) ---\n{tail}")
    return result


def check(current: Plan, token: str) -> None:
    """Drop (into ``skipped``) each variant that does not answer as it should."""
    headers = {"Authorization": f"Bearer {token}"}
    for variant, url in list(current.urls.items()):
        response = requests.get(url, headers=headers, timeout=TIMEOUT)
        if response.status_code != 200:
            current.skipped[variant] = f"GET {url}: {response.status_code}"
            del current.urls[variant]
    response = requests.post(
        current.post_url,
        data=current.post_body,
        headers={**headers, "Content-Type": "application/json"},
        timeout=TIMEOUT,
    )
    if response.status_code != 201:
        current.skipped["gateway_post"] = f"POST: {response.status_code}"
    for variant, reason in current.skipped.items():
        print(f"!! skipping {variant}: {reason}")


def variants(current: Plan) -> list[str]:
    """Return the variants to measure, in table order."""
    return [
        v
        for v in harness.VARIANTS
        if v not in current.skipped and (v in current.urls or v == "gateway_post")
    ]


# -- CPU accounting ----------------------------------------------------------------
def process_table() -> dict[int, tuple[int, int]]:
    """Return ``{pid: (ppid, cpu ticks)}`` of every process now."""
    table = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                table[int(entry.name)] = harness.parse_proc_stat(
                    (entry / "stat").read_text()
                )
            except (OSError, ValueError, IndexError):
                continue
    return table


def cpu_seconds(roots: dict[str, int]) -> dict[str, float]:
    """Return the CPU seconds used so far by each named process tree, by the load
    generator (``load``: this process and its reaped children, i.e. wrk) and by
    the whole machine (``machine``).
    """
    table = process_table()
    parents = {pid: ppid for pid, (ppid, _) in table.items()}
    tick = os.sysconf("SC_CLK_TCK")
    result = {
        name: sum(table[p][1] for p in harness.descendants(pid, parents) if p in table)
        / tick
        for name, pid in roots.items()
    }
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    result["load"] = sum((u.ru_utime + u.ru_stime for u in (own, children)), 0.0)
    result["machine"] = harness.parse_cpu_busy(Path("/proc/stat").read_text()) / tick
    return result


def worker_rss_kb(root: int) -> dict[int, int]:
    """Return the resident set size (kB) of each worker of root (``worker_cpu``)."""
    result = {}
    for pid in worker_cpu(root):
        try:
            rss = harness.parse_vm_rss_kb(Path(f"/proc/{pid}/status").read_text())
        except OSError:
            continue
        if rss is not None:
            result[pid] = rss
    return result


def worker_cpu(root: int) -> dict[int, float]:
    """Return the CPU ticks so far of each direct child (worker) of root: not
    the gateway's internal listener, a server of its own (its CPU counts in the
    gateway's total, ``cpu_seconds``)."""
    return {
        pid: ticks
        for pid, (ppid, ticks) in process_table().items()
        if ppid == root and not is_internal_listener(pid)
    }


# -- measuring -----------------------------------------------------------------------
class Runner:
    """Runs one load against one variant and records CPU of the processes."""

    def __init__(self, args: argparse.Namespace, wrk: str | None, roots: dict) -> None:
        self.args, self.wrk, self.roots = args, wrk, roots

    def load(self, target: load.Target, connections: int, duration: float) -> dict:
        if self.wrk:
            return load.run_wrk(self.wrk, target, connections, duration)
        return load.run_python(target, connections, duration)

    def measure(
        self, variant: str, target: load.Target, connections: int, repetition: int
    ) -> harness.Measurement:
        services = SERVICES_ON_PATH[variant]
        workers = {name: worker_cpu(self.roots[name]) for name in services}
        before = cpu_seconds(self.roots)
        result = self.load(target, connections, self.args.duration)
        after = cpu_seconds(self.roots)
        busiest = {
            name: share
            for name, start in workers.items()
            if (share := harness.busiest_share_pct(start, worker_cpu(self.roots[name])))
            is not None
        }
        measurement = harness.Measurement(
            variant=variant,
            connections=connections,
            repetition=repetition,
            cpu_ms=harness.cpu_delta_ms(before, after),
            busiest_worker_pct=busiest,
            **result,
        )
        lopsided = [
            f"{share:.0f}% of the {name} CPU in one worker"
            for name, share in busiest.items()
            if share >= LOPSIDED_PCT and connections > 1
        ]
        print(
            f"  rep {repetition + 1} {variant:<13} c{connections:<3} "
            f"{measurement.rps:8.0f} req/s  p50 {measurement.p50_ms:6.2f} ms  "
            f"p99 {measurement.p99_ms:6.2f} ms  "
            f"other CPU {measurement.other_cpu_pct:3.0f}%"
            + (f"  errors {measurement.errors}" if measurement.errors else "")
            + (f"  !! {', '.join(lopsided)}" if lopsided else ""),
            flush=True,
        )
        return measurement


def measure_all(
    runner: Runner, current: Plan, tokens: Tokens
) -> list[harness.Measurement]:
    """Warm up, then measure every variant at every connection count, alternating."""
    args = runner.args
    chosen = [v for v in variants(current) if v in args.variants]
    print(f"warming up {', '.join(chosen)} ({args.warmup:g} s each)", flush=True)
    for variant in chosen:
        runner.load(
            current.target(variant, tokens.get()), max(args.connections), args.warmup
        )
    measurements = []
    for repetition in range(args.repeats):
        for connections in args.connections:
            for variant in chosen:
                target = current.target(variant, tokens.get())
                measurements.append(
                    runner.measure(variant, target, connections, repetition)
                )
    return measurements


def gateway_rss(
    runner: Runner, stack: Stack, current: Plan, tokens: Tokens, total: int
) -> dict | None:
    """Restart the gateway, proxy ``GET /api/orders/{id}/`` through it at 16
    connections, and return each worker's RSS after 1k and after ``total``
    requests (with the counts actually reached), and the largest growth.
    """
    if "gateway" not in current.urls or total <= 1000:
        return None
    stack.stop("gateway")
    stack.start("gateway")
    runner.roots["gateway"] = stack.processes["gateway"].pid
    print(f"gateway RSS: proxying {total} requests on a restarted gateway ...")
    done = 0
    snapshots = {}
    for mark in (1000, total):
        while done < mark:
            chunk = 1.0 if mark == 1000 else 10.0
            result = runner.load(current.target("gateway", tokens.get()), 16, chunk)
            done += result["requests"]
            if not result["requests"]:
                print("!! the gateway answered nothing: RSS check abandoned")
                return None
        snapshots[mark] = {
            "requests": done,
            "rss_kb": worker_rss_kb(runner.roots["gateway"]),
        }
    first, last = snapshots[1000], snapshots[total]
    growth = harness.rss_growth(first["rss_kb"], last["rss_kb"])
    for label, snap in (("1k", first), (f"{total // 1000}k", last)):
        shown = ", ".join(f"{kb / 1024:.1f}" for kb in snap["rss_kb"].values())
        print(
            f"  after {label:>5} ({snap['requests']} requests): {shown} MiB per worker"
        )
    print(f"  largest growth per worker: {growth}")
    return {
        "after_1k": first,
        "after_total": last,
        "total_requested": total,
        "growth": growth,
    }


def service_auth(stack: Stack, token: str) -> dict:
    """Run bench/auth_check.py under the orders settings; return its result."""
    result = subprocess.run(
        [sys.executable, "-m", "bench.auth_check"],
        cwd=ROOT,
        env={
            **stack.env,
            "DJANGO_SETTINGS_MODULE": f"{PROJECTS['orders']}.settings",
            "BENCH_TOKEN": token,
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    for line in result.stdout.splitlines():
        if line.startswith("BENCH_AUTH "):
            return json.loads(line[len("BENCH_AUTH ") :])
    return {"error": (result.stderr or result.stdout)[-2000:]}


def verify_token_script(stack: Stack) -> str | None:
    """Return the output of bench/verify_token.py (shared_auth's), if it exists."""
    script = ROOT / "bench" / "verify_token.py"
    if not script.exists():
        return None
    result = subprocess.run(
        [sys.executable, "-m", "bench.verify_token"],
        cwd=ROOT,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return (result.stdout + result.stderr).strip()[-2000:]


def profile_gateway(runner: Runner, current: Plan, tokens: Tokens) -> dict | None:
    """Profile the gateway's processes with py-spy during one more c16 run.

    Return the hottest functions (samples holding the GIL) and the project's
    own functions by inclusive share; the raw profile stays in ``var/bench/``.
    """
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(py_spy).exists():
        print("!! --profile needs py-spy (pip install -r requirements.txt)")
        return None
    variant = runner.args.profile
    if variant not in variants(current):
        print(f"!! cannot profile {variant}: not measured in this run")
        return None
    out = OUT_DIR / f"profile-{variant}.txt"
    duration = max(3, round(runner.args.duration))
    spy = subprocess.Popen(
        [
            py_spy,
            "record",
            "--pid",
            str(runner.roots["orders" if variant == "direct" else "gateway"]),
            "--subprocesses",
            "--nonblocking",
            "--gil",
            "--function",
            "--rate",
            "250",
            "--format",
            "raw",
            "--duration",
            str(duration),
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(0.5)
    runner.load(current.target(variant, tokens.get()), 16, duration)
    _, stderr = spy.communicate(timeout=duration + 60)
    if spy.returncode or not out.exists():
        print(f"!! py-spy failed: {stderr.strip()[-500:]}")
        return None
    collapsed = out.read_text()
    return {
        "variant": variant,
        "file": str(out.relative_to(ROOT)),
        "top_self": harness.top_frames(collapsed),
        "top_project": harness.top_inclusive(collapsed, PROJECT_PACKAGES),
    }


# -- reporting -------------------------------------------------------------------
def machine(wrk: str | None) -> dict:
    """Return what the run ran on."""
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break

    def version(cmd: list[str]) -> str:
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return ""
        lines = (out.stdout + out.stderr).strip().splitlines()
        return " ".join(lines[0].split()[:3]) if lines else ""

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_average": list(os.getloadavg()),
        "wrk": version([wrk, "--version"]) if wrk else None,
        "nginx": version([Nginx.available(), "-v"]) if Nginx.available() else None,
        "commit": version(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"]),
    }


def report(
    args, info, current, table, headline, auth, measurements, profile, rss
) -> dict:
    """Print the results and return them as the JSON document."""
    gateway_rows = table.get("gateway", {})
    gateway_cpu = {
        f"gateway_cpu_ms_per_request_c{c}": row["cpu_ms_per_request"].get("gateway")
        for c, row in gateway_rows.items()
    }
    verify_us = auth.get("verify_us")
    queries = auth.get("db_queries")
    lopsided = [
        f"{m.variant} c{m.connections} rep {m.repetition + 1}"
        for m in measurements
        if m.connections > 1
        and any(v >= LOPSIDED_PCT for v in m.busiest_worker_pct.values())
    ]
    met = harness.targets(
        headline,
        verify_us,
        queries,
        lopsided_runs=len(lopsided) if measurements else None,
        rss_growth=rss["growth"] if rss else None,
    )
    print()
    print(
        f"== make bench: {info['cpu']} x{info['cores']}, load {info['wrk'] or 'python'}"
        f", {args.database}, {args.workers} workers x {args.threads} threads"
        " (gateway granian, services gunicorn gthread), "
        f"{args.duration:g} s x {args.repeats} per variant, target {current.mode}"
    )
    print(harness.format_table(table))
    print(
        "  (other CPU: what processes outside the bench used meanwhile, % of one core"
        f" of {info['cores']}; above {NOISY_PCT}% the figures are unreliable)"
    )
    if harness.busiest_other(table) > NOISY_PCT:
        print("!! the machine was busy with other work during this run")
    if lopsided:
        print(
            f"!! one worker took {LOPSIDED_PCT}%+ of a project's CPU in: "
            + ", ".join(lopsided)
            + " (its connections all went to that worker: one core, not two)"
        )
    print(harness.format_headline({**headline, **gateway_cpu}))
    print(
        "service auth (orders settings): verify one token "
        f"{verify_us} us via {auth.get('authenticator')} (seen before: "
        f"{auth.get('verify_cached_us')} us), PyJWT decode alone "
        f"{auth.get('pyjwt_verify_us')} us; per 100 authentications: "
        f"{queries} DB queries, {auth.get('network_connects')} network connects"
    )
    for error in ("error", "service_auth_error", "pyjwt_error"):
        if error in auth:
            print(f"!! {error}: {auth[error]}")
    print("targets: " + ", ".join(f"{k}={v}" for k, v in met.items()))
    if profile:
        print(f"profile ({profile['file']}), samples holding the GIL:")
        print("  self%  total%  hottest functions")
        for frame, own, total in profile["top_self"]:
            print(f"  {own:5.1f}  {total:5.1f}   {frame}")
        print("  total%  project code")
        for frame, total in profile["top_project"]:
            print(f"  {total:6.1f}   {frame}")
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": current.mode,
        "machine": info,
        "settings": {
            "duration_s": args.duration,
            "repeats": args.repeats,
            "warmup_s": args.warmup,
            "connections": args.connections,
            "database": args.database,
            "servers": f"gateway granian, services gunicorn gthread; {args.workers}"
            f" workers x {args.threads} threads",
            "load": "wrk" if info["wrk"] else "python",
        },
        **headline,
        **gateway_cpu,
        "service_auth": auth,
        "targets": met,
        "skipped": current.skipped,
        "table": {
            v: {str(c): row for c, row in rows.items()} for v, rows in table.items()
        },
        "runs": [m.as_dict() for m in measurements],
        "gateway_rss": rss,
        "profile": profile,
    }


def save(document: dict) -> Path:
    """Write ``var/bench/latest.json`` and a dated copy; return the dated path."""
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    text = json.dumps(document, indent=2) + "\n"
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    dated = OUT_DIR / f"bench-{stamp}.json"
    dated.write_text(text)
    (OUT_DIR / "latest.json").write_text(text)
    return dated


def main(argv: list[str]) -> int:
    """Run the whole bench; return the process exit status."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    wrk = None
    if args.load != "python":
        wrk = load.ensure_wrk(install=not args.no_install)
        if wrk is None and args.load == "wrk":
            print("wrk is required (--load wrk) but missing")
            return 2
    info = machine(wrk)
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    env = {
        "E2E_WORKERS": str(args.workers),
        "E2E_THREADS": str(args.threads),
        "WEB_CONCURRENCY": str(args.workers),
        "GUNICORN_THREADS": str(args.threads),
    }
    stack = Stack(workdir / "stack", args.database, extra_env=env)
    extra = ExtraGateways(stack, args.variants)
    nginx = Nginx(workdir / "nginx", free_port(), f"127.0.0.1:{stack.ports['orders']}")
    try:
        print(f"starting the stack in {workdir} ({args.database}) ...", flush=True)
        stack.setup()
        nginx_url = None
        if Nginx.available():
            nginx.start()
            nginx_url = nginx.url
        else:
            print("!! nginx is not installed: no nginx floor (apt-get install nginx)")
        extra.start()
        tokens = Tokens(stack)
        current = plan(stack, tokens.get(), nginx_url, extra.urls)
        roots = {name: proc.pid for name, proc in stack.processes.items()}
        roots.update({name: proc.pid for name, proc in extra.processes.items()})
        if nginx.process:
            roots["nginx"] = nginx.process.pid
        runner = Runner(args, wrk, roots)
        measurements = measure_all(runner, current, tokens)
        token = tokens.get()
        auth = service_auth(stack, token) if token else {"error": "no token"}
        verify_output = verify_token_script(stack)
        profile = profile_gateway(runner, current, tokens) if args.profile else None
        rss = (
            gateway_rss(runner, stack, current, tokens, args.rss_requests)
            if args.rss_requests
            else None
        )
        table = harness.summarize(measurements)
        headline = {
            **harness.ratios(table),
            **harness.cpu_ratios(table),
            **harness.observability_costs(table),
        }
        document = report(
            args, info, current, table, headline, auth, measurements, profile, rss
        )
        if verify_output:
            print("bench/verify_token.py:\n" + verify_output)
            document["verify_token_script"] = verify_output
        document["machine"]["load_average_after"] = list(os.getloadavg())
        if extra.receiver:
            document["spans_exported"] = extra.spans_received()
            print(f"tracing: {document['spans_exported']} spans exported")
        dated = save(document)
        print(f"written {OUT_DIR.relative_to(ROOT)}/latest.json and {dated.name}")
    except Exception:
        for name in PROJECTS:
            path = stack.log_path(name)
            if path.exists():
                print(f"--- {name} log (tail) ---\n{path.read_text()[-3000:]}")
        raise
    finally:
        nginx.stop()
        extra.stop()
        stack.close()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"kept {workdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
