"""CPU per request of one project, called in-process: figures a busy machine keeps.

``python -m bench.inprocess orders`` calls the orders service's WSGI application
with ``GET /api/orders/{id}/`` and a real access token (RS256, verified through
a JWKS and checked against a revocation feed, both served by a fake gateway in
another process); ``python -m bench.inprocess gateway`` calls the gateway's WSGI
application with the same request, proxied to a fake orders service in another
process (a fixed keep-alive answer). Each prints the CPU time of this process
per request (``time.process_time``: the server's other processes and the rest
of the machine are not counted, so the figure holds on a loaded machine),
best of ``--repeats`` batches, and with ``--profile`` the hottest functions
(cProfile, by own time).

Nothing of gunicorn runs here (its request parsing and response writing are
the same whatever the application does): this measures the application.
"""

from __future__ import annotations

import argparse
import atexit
import cProfile
import io
import json
import os
import pstats
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from devstack.stack import free_port

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {"orders": "orders_service.settings", "gateway": "gateway_project.settings"}

# A fake gateway (JWKS and revocation feed) or a fake orders service (a fixed
# answer the size of an order), each a tiny keep-alive HTTP server.
_FAKE_SERVER = textwrap.dedent(
    """
    import json, socket, sys, threading, time
    port, jwks = int(sys.argv[1]), sys.argv[2]
    order = json.dumps({"id": "0" * 32, "customer_id": 1, "total": "0.01",
        "state": "APPROVED", "owner_sub": "1", "owner_username": "alice",
        "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"})
    def answer(path):
        if path.startswith("/.well-known/jwks.json"):
            return jwks
        if path.startswith("/auth/revocations/"):
            return json.dumps({"time": time.time(), "window": 310.0,
                "revocations": [{"sub": "999", "not_before": time.time()}],
                "tokens": []})
        return order
    def serve(conn):
        data = b""
        with conn:
            while True:
                while b"\\r\\n\\r\\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, _, data = data.partition(b"\\r\\n\\r\\n")
                body = answer(head.split(b" ", 2)[1].decode()).encode()
                conn.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Type: application/json"
                    b"\\r\\nVary: Accept\\r\\nAllow: GET, HEAD, OPTIONS\\r\\n"
                    b"X-Frame-Options: DENY\\r\\nX-Content-Type-Options: nosniff\\r\\n"
                    b"Referrer-Policy: same-origin\\r\\nX-Request-ID: "
                    b"0123456789abcdef0123456789abcdef\\r\\nContent-Length: "
                    + str(len(body)).encode() + b"\\r\\n\\r\\n" + body)
    server = socket.create_server(("127.0.0.1", port))
    print("ready", flush=True)
    while True:
        conn, _ = server.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()
    """
)


def start_fake(port: int, jwks: str) -> subprocess.Popen:
    """Start the fake server on ``port``; return it once it listens."""
    process = subprocess.Popen(
        [sys.executable, "-c", _FAKE_SERVER, str(port), jwks],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    atexit.register(process.kill)  # also when the setup fails half-way
    assert process.stdout is not None
    process.stdout.readline()
    return process


def environ(path: str, token: str, port: int) -> dict:
    """Return a WSGI environ like gunicorn's for ``GET path`` with ``token``."""
    return {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "RAW_URI": path,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": str(port),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "50000",
        "HTTP_HOST": f"127.0.0.1:{port}",
        "HTTP_USER_AGENT": "wrk",
        "HTTP_AUTHORIZATION": f"Bearer {token}",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }


def caller(app: Callable, env: dict) -> Callable[[], int]:
    """Return a function making one request; it returns the status code."""

    def call() -> int:
        status = []

        def start_response(value: str, headers: list, exc_info: object = None) -> None:
            status.append(value)

        request = dict(env, **{"wsgi.input": io.BytesIO(b"")})
        result = app(request, start_response)
        try:
            for _ in result:
                pass
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return int(status[0].split(" ", 1)[0])

    return call


def measure(call: Callable[[], int], number: int, repeats: int) -> float:
    """Return the best CPU microseconds per call over ``repeats`` batches."""
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        for _ in range(number):
            call()
        best = min(best, (time.process_time() - started) / number)
    return best * 1e6


def profile(call: Callable[[], int], number: int, limit: int = 25) -> str:
    """Return cProfile's hottest functions (own CPU time, then cumulative) over
    ``number`` calls."""
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    for _ in range(number):
        call()
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(limit)
    stats.sort_stats("cumulative").print_stats(limit)
    if os.environ.get("INPROCESS_CALLERS"):
        stats.print_callers(os.environ["INPROCESS_CALLERS"])
    if os.environ.get("INPROCESS_DUMP"):
        stats.dump_stats(os.environ["INPROCESS_DUMP"])
    return out.getvalue()


def rsa_jwks() -> tuple[object, str, str]:
    """Return an RSA private key, its kid and the JWKS publishing it.

    The key is read from ``INPROCESS_KEY_FILE`` if set (made there if absent), so
    that runs compared by instruction counts (callgrind) do the same work.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from jwt.algorithms import RSAAlgorithm

    path = os.environ.get("INPROCESS_KEY_FILE")
    if path and Path(path).exists():
        key = serialization.load_pem_private_key(Path(path).read_bytes(), None)
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if path:
            Path(path).write_bytes(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
    kid = "inprocess"
    jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid=kid, alg="RS256", use="sig")
    return key, kid, json.dumps({"keys": [jwk]})


def claims(issuer: str) -> dict:
    """Return a login access token's claims (the contract's), valid 10 minutes."""
    now = time.time()
    return {
        "token_type": "access",
        "iss": issuer,
        "aud": ["orders", "customers"],
        "sub": "1",
        "exp": int(now) + 600,
        "iat": now,
        "jti": uuid.uuid4().hex,
        "client_id": "gateway",
        "scope": "orders:read orders:write customers:read customers:write",
        "username": "alice",
        "roles": [],
    }


def setup_orders(workdir: Path) -> tuple[Callable[[], int], list[subprocess.Popen]]:
    """Return the call of the orders service's app, and the fake gateway."""
    import jwt

    key, kid, jwks = rsa_jwks()
    port = free_port()
    fake = start_fake(port, jwks)
    issuer = f"http://127.0.0.1:{port}"
    os.environ.update(
        JWT_ISSUER=issuer,
        ORDERS_DATABASE_URL=f"sqlite:///{workdir / 'orders.sqlite3'}",
        REVOCATION_FEED_TOKEN="inprocess-" + uuid.uuid4().hex,
    )
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from orders_service.orders.models import Order
    from orders_service.wsgi import application

    order = Order.objects.create(
        customer_id=1, total="0.01", owner_sub="1", owner_username="alice"
    )
    token = jwt.encode(
        claims(issuer), key, algorithm="RS256", headers={"kid": kid, "typ": "at+jwt"}
    )
    env = environ(f"/api/orders/{order.pk}/", token, 8001)
    return caller(application, env), [fake]


def setup_gateway(workdir: Path) -> tuple[Callable[[], int], list[subprocess.Popen]]:
    """Return the call of the gateway's app proxying to a fake orders service."""
    port = free_port()
    fake = start_fake(port, "{}")
    os.environ.update(
        ORDERS_SERVICE_URL=f"http://127.0.0.1:{port}",
        GATEWAY_DATABASE_URL=f"sqlite:///{workdir / 'gateway.sqlite3'}",
        # A kept directory (INPROCESS_KEYS_DIR) spares the random work of making
        # a key, so that runs compared by instruction counts do the same work.
        JWT_SIGNING_KEYS_DIR=os.environ.get("INPROCESS_KEYS_DIR")
        or str(workdir / "keys"),
    )
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from django.contrib.auth import get_user_model

    from gateway_project.identity.tokens import access_token_for
    from gateway_project.wsgi import application

    user = get_user_model().objects.create_user("alice", password=uuid.uuid4().hex)
    env = environ(f"/api/orders/{uuid.uuid4().hex}/", access_token_for(user), 8000)
    return caller(application, env), [fake]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.inprocess")
    parser.add_argument("project", choices=sorted(SETTINGS))
    parser.add_argument("--number", type=int, default=2000, help="calls per batch")
    parser.add_argument("--repeats", type=int, default=5, help="batches")
    parser.add_argument("--profile", action="store_true", help="cProfile a batch")
    parser.add_argument("--json", action="store_true", help="one JSON line only")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="inprocess-"))
    os.environ.update(
        DJANGO_SETTINGS_MODULE=SETTINGS[args.project],
        VAR_DIR=str(workdir),
        DJANGO_DEBUG="0",
        DJANGO_HTTPS="0",  # plain http, as the stack
        DJANGO_SECRET_KEY="inprocess-" + uuid.uuid4().hex * 2,
        LOG_LEVEL=os.environ.get("LOG_LEVEL", "INFO"),
    )
    sys.path.insert(0, str(ROOT))
    setup = setup_orders if args.project == "orders" else setup_gateway
    call, fakes = setup(workdir)
    # Logging goes where gunicorn sends it (a pipe or a file), not a terminal.
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - for the process's life
    try:
        for _ in range(200):  # warm up: keys, revocation list, connections
            status = call()
            if status != 200:
                raise SystemExit(f"{args.project}: answered {status}")
        us = measure(call, args.number, args.repeats)
        result = {"project": args.project, "cpu_us_per_request": round(us, 1)}
        print(json.dumps(result) if args.json else f"{args.project}: {us:.1f} us CPU")
        if args.profile:
            print(profile(call, args.number))
    finally:
        for fake in fakes:
            fake.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
