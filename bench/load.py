"""Load generators: wrk when it is installed, else a bounded Python one.

Both return the same dict: ``requests``, ``duration_s``, ``p50_ms``, ``p99_ms``
and ``errors`` (non-zero counts by kind; ``status`` counts answers >= 400).
"""

from __future__ import annotations

import http.client
import logging
import os
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from bench.harness import parse_wrk_output, percentile

logger = logging.getLogger(__name__)

WRK_SCRIPT = Path(__file__).with_name("wrk.lua")
# Per-request timeout of both generators, in seconds.
REQUEST_TIMEOUT = 10


@dataclass(frozen=True)
class Target:
    """One kind of request to repeat: method, URL, bearer token and JSON body."""

    url: str
    method: str = "GET"
    token: str = ""
    body: str = ""


def ensure_wrk(install: bool) -> str | None:
    """Return the path of wrk, installing Debian's package if allowed and possible.

    Return None (the caller falls back to the Python generator) when wrk is
    absent and cannot be installed: not root, no apt-get, or the install failed.
    """
    found = shutil.which("wrk")
    if found or not install:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        logger.warning("wrk is not installed (apt-get install wrk); using Python load")
        return None
    print("installing wrk with apt-get ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "wrk"],
            env=env,
            check=True,
            capture_output=True,
            timeout=300,
        )
    except (subprocess.SubprocessError, OSError) as exc:
        logger.warning("could not install wrk (%s); using Python load", exc)
        return None
    return shutil.which("wrk")


def run_wrk(wrk: str, target: Target, connections: int, duration: float) -> dict:
    """Return the result of one wrk run against ``target``."""
    env = {
        **os.environ,
        "BENCH_METHOD": target.method,
        "BENCH_TOKEN": target.token,
        "BENCH_BODY": target.body,
    }
    result = subprocess.run(
        [
            wrk,
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(duration))}s",
            f"--timeout={REQUEST_TIMEOUT}s",
            "-s",
            str(WRK_SCRIPT),
            target.url,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=duration + 60,
    )
    return parse_wrk_output(result.stdout + result.stderr)


def run_python(target: Target, connections: int, duration: float) -> dict:
    """Return the result of ``connections`` keep-alive threads for ``duration`` s.

    Slower than wrk (the GIL caps it near a few thousand req/s), but bounded the
    same way: it stops at the deadline whatever the server does.
    """
    parts = urlsplit(target.url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    headers = {"Connection": "keep-alive"}
    if target.token:
        headers["Authorization"] = f"Bearer {target.token}"
    if target.body:
        headers["Content-Type"] = "application/json"
    latencies: list[float] = []
    errors: dict[str, int] = {}
    lock = threading.Lock()
    deadline = time.monotonic() + duration

    def worker() -> None:
        mine: list[float] = []
        conn = http.client.HTTPConnection(
            parts.hostname, parts.port, timeout=REQUEST_TIMEOUT
        )
        while time.monotonic() < deadline:
            start = time.perf_counter()
            try:
                conn.request(target.method, path, target.body or None, headers)
                response = conn.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                conn.close()
                with lock:
                    errors["read"] = errors.get("read", 0) + 1
                continue
            mine.append(time.perf_counter() - start)
            if response.status >= 400:
                with lock:
                    errors["status"] = errors.get("status", 0) + 1
        conn.close()
        with lock:
            latencies.extend(mine)

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(duration + REQUEST_TIMEOUT + 5)
    elapsed = time.monotonic() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "duration_s": elapsed,
        "p50_ms": percentile(latencies, 50) * 1e3,
        "p99_ms": percentile(latencies, 99) * 1e3,
        "errors": errors,
    }
