"""What the orders service pays per request behind the gateway, and why.

``python -m bench.hop`` starts the stack as ``make bench`` does (gthread, 2
workers x 4 threads each, SQLite) with the orders service's access log giving
each request's worker pid and client port, then loads ``GET /api/orders/{id}/``
with wrk, alternating, for each variant:

- ``direct`` and ``gateway``: as in ``make bench``;
- ``direct_gwheaders``: direct, with the headers the gateway adds
  (``X-Forwarded-*``, ``X-Request-ID``, ``Accept-Encoding``);
- ``direct_c6`` (16 connections only): direct on 6 connections, as many as the
  gateway's pools hold (2 workers x 3);
- ``direct_burners``: direct, with two processes beside it burning CPU in
  bursts (1.6 ms on, 2.4 ms off: about 0.8 of a core, as the gateway uses);
- ``paced_0`` and ``paced_1.6`` (1 connection only): wrk's request on one
  keep-alive connection from a Python client, which after each answer goes on
  at once, or first spins 1.6 ms on the CPU (about the gateway's own time).

Per run it prints the connections orders accepted and how they and the requests
fell on its workers, orders' CPU per request (``/proc``) and its threads'
voluntary and involuntary context switches per request; then the medians.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

from bench import load
from bench import run as bench_run
from devstack.stack import Stack

ACCESS_FORMAT = "HOP %(p)s %({remote_port}e)s %(s)s"
BURNER = "import time\nwhile True:\n  t = time.perf_counter() + 0.0016\n" + (
    "  while time.perf_counter() < t: pass\n  time.sleep(0.0024)\n"
)

# One keep-alive connection, wrk's request, a CPU spin of argv[3] ms after each
# answer, for argv[4] seconds.
PACED = """
import socket, sys, time
from urllib.parse import urlsplit
url, token = sys.argv[1:3]
pause, duration = float(sys.argv[3]), float(sys.argv[4])
u = urlsplit(url)
request = (f"GET {u.path} HTTP/1.1\\r\\nHost: {u.netloc}\\r\\n"
           f"Authorization: Bearer {token}\\r\\n\\r\\n").encode()
sock = socket.create_connection((u.hostname, u.port))
sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
data, end = b"", time.monotonic() + duration
while time.monotonic() < end:
    sock.sendall(request)
    while b"\\r\\n\\r\\n" not in data:
        data += sock.recv(65536)
    head, _, data = data.partition(b"\\r\\n\\r\\n")
    length = int(head.lower().split(b"content-length:")[1].split(b"\\r\\n")[0])
    while len(data) < length:
        data += sock.recv(65536)
    data = data[length:]
    spin = time.perf_counter() + pause / 1000
    while time.perf_counter() < spin:
        pass
"""


def context_switches(root: int) -> tuple[int, int]:
    """Return the voluntary and involuntary context switches so far of the
    threads of ``root``'s workers."""
    voluntary = involuntary = 0
    for pid in bench_run.worker_cpu(root):
        for task in Path(f"/proc/{pid}/task").glob("*"):
            try:
                status = (task / "status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                name, _, value = line.partition(":")
                if name == "voluntary_ctxt_switches":
                    voluntary += int(value)
                elif name == "nonvoluntary_ctxt_switches":
                    involuntary += int(value)
    return voluntary, involuntary


def access_lines(log: Path, offset: int) -> list[tuple[str, str, str]]:
    """Return ``(worker pid, client port, status)`` of the log's lines after
    ``offset``."""
    with log.open("rb") as file:
        file.seek(offset)
        text = file.read().decode(errors="replace")
    return [
        tuple(line.split()[1:4])
        for line in text.splitlines()
        if line.startswith("HOP ")
    ]


class Hop:
    """The stack, the order's URLs and one wrk run per call."""

    def __init__(self, stack: Stack, duration: float) -> None:
        self.stack, self.duration = stack, duration
        self.tokens = bench_run.Tokens(stack)
        _, order_id = bench_run.seed(stack, self.tokens.get())
        self.direct = f"{stack.url('orders')}/api/orders/{order_id}/"
        self.gateway = f"{stack.url('gateway')}/api/orders/{order_id}/"
        self.gateway_headers = [
            "Accept-Encoding: identity",
            "X-Forwarded-For: 127.0.0.1",
            f"X-Forwarded-Host: 127.0.0.1:{stack.ports['gateway']}",
            "X-Forwarded-Proto: http",
            "X-Request-ID: 0123456789abcdef0123456789abcdef",
        ]

    def wrk(self, url: str, connections: int, headers: Sequence[str] = ()) -> None:
        """Load ``url`` for the run's duration."""
        command = ["wrk", "-t1", f"-c{connections}", f"-d{round(self.duration)}s"]
        for header in headers:
            command += ["-H", header]
        env = {**os.environ, "BENCH_TOKEN": self.tokens.get()}
        subprocess.run(
            [*command, "-s", str(load.WRK_SCRIPT), url],
            env=env,
            capture_output=True,
            check=True,
            timeout=self.duration + 60,
        )

    def variants(self) -> dict[str, Callable[[int], None]]:
        """Return each variant's run at a number of connections."""
        return {
            "direct": lambda c: self.wrk(self.direct, c),
            "gateway": lambda c: self.wrk(self.gateway, c),
            "direct_gwheaders": lambda c: self.wrk(
                self.direct, c, self.gateway_headers
            ),
            "direct_c6": lambda c: self.wrk(self.direct, 6),
            "direct_burners": self.burned,
            "paced_0": lambda c: self.paced(0.0),
            "paced_1.6": lambda c: self.paced(1.6),
        }

    def paced(self, pause_ms: float) -> None:
        """Load ``direct`` on one connection, spinning ``pause_ms`` per answer."""
        subprocess.run(
            [sys.executable, "-c", PACED, self.direct, self.tokens.get()]
            + [str(pause_ms), str(self.duration)],
            check=True,
            timeout=self.duration + 60,
        )

    def burned(self, connections: int) -> None:
        """Load ``direct`` with two CPU burners running beside it."""
        burners = [subprocess.Popen([sys.executable, "-c", BURNER]) for _ in range(2)]
        try:
            self.wrk(self.direct, connections)
        finally:
            for burner in burners:
                burner.kill()
                burner.wait()

    def measure(self, name: str, connections: int) -> dict | None:
        """Return one run's figures (None for a variant not run at ``connections``)."""
        if (name == "direct_c6" and connections == 1) or (
            name.startswith("paced") and connections > 1
        ):
            return None
        log = self.stack.log_path("orders")
        root = self.stack.processes["orders"].pid
        offset = log.stat().st_size
        switches = context_switches(root)
        cpu = bench_run.cpu_seconds({"orders": root})["orders"]
        self.variants()[name](connections)
        cpu = bench_run.cpu_seconds({"orders": root})["orders"] - cpu
        switches = [
            b - a for a, b in zip(switches, context_switches(root), strict=True)
        ]
        time.sleep(0.2)  # the last access lines
        lines = access_lines(log, offset)
        requests = max(1, len(lines))
        accepted = {(pid, port) for pid, port, _ in lines}
        return {
            "variant": name,
            "connections": connections,
            "requests": len(lines),
            "orders_accepted": len(accepted),
            "connections_per_worker": sorted(
                Counter(pid for pid, _ in accepted).values(), reverse=True
            ),
            "requests_per_worker": sorted(
                Counter(pid for pid, _, _ in lines).values(), reverse=True
            ),
            "orders_cpu_ms_per_request": round(1000 * cpu / requests, 3),
            "switches_per_request": [round(s / requests, 2) for s in switches],
        }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hop")
    parser.add_argument("--duration", type=float, default=3.0, help="s per run")
    parser.add_argument("--repeats", type=int, default=4, help="runs per variant")
    args = parser.parse_args(argv)
    env = {
        "E2E_WORKERS": "2",
        "E2E_THREADS": "4",
        "WEB_CONCURRENCY": "2",
        "GUNICORN_THREADS": "4",
        "GUNICORN_CMD_ARGS": f'--access-logformat "{ACCESS_FORMAT}"',
    }
    workdir = Path(tempfile.mkdtemp(prefix="hop-"))
    stack = Stack(workdir, "sqlite", extra_env=env)
    rows = []
    try:
        stack.setup()
        hop = Hop(stack, args.duration)
        for name in hop.variants():  # warm up
            hop.measure(name, 16)
        for _ in range(args.repeats):
            for connections in (1, 16):
                for name in hop.variants():
                    row = hop.measure(name, connections)
                    if row is not None:
                        print(json.dumps(row), flush=True)
                        rows.append(row)
    finally:
        stack.close()
    print("medians:")
    for connections in (1, 16):
        for name in hop.variants():
            runs = [
                r
                for r in rows
                if r["variant"] == name and r["connections"] == connections
            ]
            if runs:
                cpu = statistics.median(r["orders_cpu_ms_per_request"] for r in runs)
                vol, invol = (
                    statistics.median(r["switches_per_request"][i] for r in runs)
                    for i in (0, 1)
                )
                print(
                    f"  c{connections:<3}{name:<17} orders CPU {cpu:.3f} ms/request, "
                    f"context switches {vol:.2f} + {invol:.2f} per request"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
