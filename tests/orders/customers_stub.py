"""A real local HTTP server standing in for the customers service.

It speaks the customers reservation API (owner-scoped by a fake bearer token,
idempotent per order id, 409 when credit is short, a released order id refused
for good) so the orders service's
``ServiceSession`` is exercised over real sockets. ``mode`` injects faults:
``"hang"`` applies a reservation and then answers only after the test ends
(the caller times out), ``"hang_all"`` also hangs releases (without applying
them), ``"error"`` answers 500.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKENS = {"Bearer alice-token": "1", "Bearer bob-token": "2", "Bearer staff-token": "3"}
STAFF = {"3"}
RESERVATIONS = re.compile(r"^/api/customers/(\d+)/reservations/(?:([\w.-]+)/)?$")


@dataclass
class CustomersStub:
    """The stub's state; ``url`` is its base URL once started."""

    customers: dict[int, tuple[str, Decimal]] = field(default_factory=dict)
    reservations: dict[tuple[int, str], Decimal] = field(default_factory=dict)
    released: set[tuple[int, str]] = field(default_factory=set)
    calls: list[dict] = field(default_factory=list)
    mode: str = "normal"
    release_hung: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def reset(self) -> None:
        self.release_hung.set()
        self.release_hung = threading.Event()
        self.customers.clear()
        self.reservations.clear()
        self.released.clear()
        self.calls.clear()
        self.mode = "normal"

    def add_customer(self, customer_id: int, owner_sub: str, limit: str) -> None:
        self.customers[customer_id] = (owner_sub, Decimal(limit))

    def available(self, customer_id: int) -> Decimal:
        reserved = sum(
            (a for (c, _), a in self.reservations.items() if c == customer_id),
            Decimal("0"),
        )
        return self.customers[customer_id][1] - reserved

    @staticmethod
    def _page(results: list[dict]) -> dict:
        """Return ``results`` as one DRF page (the stub never paginates)."""
        return {
            "count": len(results),
            "next": None,
            "previous": None,
            "results": results,
        }

    # -- request handling ------------------------------------------------------
    def handle(self, method: str, path: str, headers: dict, body: bytes):
        """Return ``(status, json body or None)`` for one request."""
        self.calls.append(
            {"method": method, "path": path, "headers": headers, "body": body}
        )
        if self.mode == "error":
            return 500, {"detail": "boom"}
        sub = TOKENS.get(headers.get("Authorization", ""))
        if sub is None:
            return 401, {"detail": "no token"}
        path = path.split("?", 1)[0]
        if method == "GET" and path == "/api/customers/":
            return 200, self._page(
                [
                    {"id": c}
                    for c, (owner, _) in self.customers.items()
                    if owner == sub or sub in STAFF
                ]
            )
        match = RESERVATIONS.match(path)
        customer = match and self.customers.get(int(match[1]))
        if not customer or (customer[0] != sub and sub not in STAFF):
            return 404, {"detail": "Not found."}
        customer_id, order_id = int(match[1]), match[2]
        with self.lock:
            if method == "GET" and order_id is None:
                return 200, self._page(
                    [
                        {"order_id": o, "amount": str(a)}
                        for (c, o), a in self.reservations.items()
                        if c == customer_id
                    ]
                )
            if method == "POST" and order_id is None:
                data = json.loads(body)
                key, amount = (customer_id, data["order_id"]), Decimal(data["amount"])
                if key in self.released:
                    return 409, {"detail": "released", "code": "reservation_released"}
                if key in self.reservations:
                    return 200, {"order_id": key[1], "amount": str(amount)}
                if amount > self.available(customer_id):
                    return 409, {"detail": "short", "code": "insufficient_credit"}
                self.reservations[key] = amount
                return 201, {"order_id": key[1], "amount": str(amount)}
            if method == "DELETE" and order_id is not None:
                self.reservations.pop((customer_id, order_id), None)
                self.released.add((customer_id, order_id))
                return 204, None
        return 405, {"detail": "Method not allowed."}


def make_handler(stub: CustomersStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if stub.mode == "hang_all" and self.command == "DELETE":
                stub.release_hung.wait(timeout=30)  # never applied in time
                status, payload = 503, {"detail": "late"}
            else:
                status, payload = stub.handle(
                    self.command, self.path, dict(self.headers), body
                )
            if stub.mode in ("hang", "hang_all") and self.command == "POST":
                stub.release_hung.wait(timeout=30)
            data = b"" if payload is None else json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the caller timed out and hung up

        do_GET = do_POST = do_DELETE = _serve

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


def start(stub: CustomersStub) -> ThreadingHTTPServer:
    """Serve ``stub`` on a free port in a daemon thread; set ``stub.url``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(stub))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    stub.url = f"http://127.0.0.1:{server.server_address[1]}"
    return server
