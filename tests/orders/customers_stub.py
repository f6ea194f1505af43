"""A real local HTTP server standing in for the customers service.

It speaks the customers reservation API (owner-scoped by a fake bearer token,
idempotent per order id, 409 when credit is short, a released order id refused
for good) so the orders service's
``ServiceSession`` is exercised over real sockets. It also stands in for the
gateway's token endpoint (``TOKEN_PATH``): the orders client exchanges a
user's token (``alice-token``) for a delegated one (``alice-token~orders``);
the reservation API accepts only delegated tokens, never a user's own, and
the orders client's own machine token (``MACHINE_TOKEN``, client credentials:
it acts for no user and sees every customer, as the reconciler needs).
``mode`` injects faults: ``"hang"`` applies a reservation and then answers
only after the test ends (the caller times out), ``"hang_all"`` also hangs
releases (without applying them), ``"error"`` answers 500, ``"no_exchange"``
makes the token endpoint refuse every exchange.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

USER_TOKENS = {"alice-token": "1", "bob-token": "2", "staff-token": "3"}
# Only tokens exchanged by the orders client are accepted by the reservation API.
TOKENS = {f"Bearer {token}~orders": sub for token, sub in USER_TOKENS.items()}
MACHINE_TOKEN = "orders-machine-token"
TOKENS[f"Bearer {MACHINE_TOKEN}"] = "orders"
# Staff, and the orders client acting for no user, see every customer.
SEE_ALL = {"3", "orders"}
TOKEN_PATH = "/auth/oauth/token/"
CLIENT = ("orders", "orders-test-secret")
EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
CLIENT_CREDENTIALS = "client_credentials"
RESERVATIONS = re.compile(r"^/api/customers/(\d+)/reservations/(?:([\w.-]+)/)?$")


@dataclass
class CustomersStub:
    """The stub's state; ``url`` is its base URL once started."""

    customers: dict[int, tuple[str, Decimal]] = field(default_factory=dict)
    reservations: dict[tuple[int, str], Decimal] = field(default_factory=dict)
    released: set[tuple[int, str]] = field(default_factory=set)
    calls: list[dict] = field(default_factory=list)
    exchanges: list[dict] = field(default_factory=list)
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
        self.exchanges.clear()
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
    def exchange(self, headers: dict, body: bytes):
        """Answer one RFC 8693 exchange (or the orders client's own client
        credentials grant) as the gateway would (the happy path)."""
        form = dict(parse_qsl(body.decode()))
        self.exchanges.append(form)
        basic = headers.get("Authorization", "").removeprefix("Basic ")
        if base64.b64decode(basic or "").decode() != ":".join(CLIENT):
            return 401, {"error": "invalid_client"}
        if form.get("grant_type") == CLIENT_CREDENTIALS:
            return self.client_credentials(form)
        if self.mode == "no_exchange" or form.get("subject_token") not in USER_TOKENS:
            return 400, {"error": "invalid_grant"}
        if form.get("grant_type") != EXCHANGE_GRANT or form.get("audience") != (
            "customers"
        ):
            return 400, {"error": "invalid_request"}
        return 200, {
            "access_token": f"{form['subject_token']}~orders",
            "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": form.get("scope", ""),
        }

    @staticmethod
    def client_credentials(form: dict):
        """Answer the orders client's grant for its own token at customers."""
        if form.get("audience") != "customers":
            return 400, {"error": "invalid_target"}
        return 200, {
            "access_token": MACHINE_TOKEN,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": form.get("scope", ""),
        }

    def handle(self, method: str, path: str, headers: dict, body: bytes):
        """Return ``(status, json body or None)`` for one request."""
        if path == TOKEN_PATH:
            return self.exchange(headers, body)
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
                    if owner == sub or sub in SEE_ALL
                ]
            )
        match = RESERVATIONS.match(path)
        customer = match and self.customers.get(int(match[1]))
        if not customer or (customer[0] != sub and sub not in SEE_ALL):
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
            hangs = stub.mode in ("hang", "hang_all") and self.path != TOKEN_PATH
            if hangs and self.command == "POST":
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
