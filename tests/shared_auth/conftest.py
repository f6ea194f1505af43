"""Fixtures: signing keys, a local JWKS/echo HTTP server, a token factory."""

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from django.core.cache import cache
from jwt.algorithms import RSAAlgorithm
from rest_framework.test import APIClient

from shared_auth import authentication
from shared_auth.exchange import reset_exchanger
from shared_auth.jwks import reset_jwks_clients
from shared_auth.revocation import reset_revocation_clients
from tests.support.tokens import KID, claims, signed


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    """The gateway's signing key, as published in the JWKS under ``KID``."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def attacker_rsa_key() -> rsa.RSAPrivateKey:
    """A key the gateway never published."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def attacker_ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="session")
def attacker_ed_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


def public_jwk(private_key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    """Return the public JWK of ``private_key`` as the gateway publishes it."""
    jwk = RSAAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
    return {**jwk, "kid": kid, "alg": "RS256", "use": "sig"}


@dataclass
class LocalServer:
    """A local HTTP server; tests set ``routes`` and read ``hits``/``seen``.

    A route is ``(status, content_type, body)`` or ``"hang"`` (accept, never
    answer until the server stops) or ``"stall"`` (send the headers and the
    first byte of the body, then hang) or a callable taking the handler.
    """

    routes: dict[str, Any] = field(default_factory=dict)
    hits: Counter = field(default_factory=Counter)
    seen: list[dict[str, str]] = field(default_factory=list)
    url: str = ""
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def serve_jwks(self, *jwks: dict[str, Any], path: str = "/jwks.json") -> None:
        self.routes[path] = (200, "application/json", json.dumps({"keys": list(jwks)}))


def _handler(server: LocalServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            path = self.path.split("?")[0]
            with server.lock:
                server.hits[path] += 1
                server.seen.append({"path": path, **dict(self.headers.items())})
            route = server.routes.get(path, (404, "application/json", "{}"))
            if route == "hang":
                server.stop.wait(10)
                return
            if route == "stall":
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "1000")
                self.end_headers()
                self.wfile.write(b"{")
                self.wfile.flush()
                server.stop.wait(10)
                return
            if callable(route):
                route = route(self)
            status, content_type, body = route
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_POST = do_GET  # noqa: N815

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def server() -> Iterator[LocalServer]:
    """A fresh local HTTP server on 127.0.0.1:0."""
    state = LocalServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    )
    thread.start()
    yield state
    state.stop.set()
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def clean_state() -> Iterator[None]:
    """Each test starts with an empty cache, no in-process keys, revocations or
    verified tokens."""
    cache.clear()
    reset_jwks_clients()
    reset_revocation_clients()
    authentication._verified.clear()
    reset_exchanger()
    yield
    cache.clear()
    authentication._verified.clear()
    reset_jwks_clients()
    reset_revocation_clients()
    reset_exchanger()


@pytest.fixture
def jwks_server(server: LocalServer, rsa_key, settings) -> LocalServer:
    """The local server publishing the gateway key, and settings pointing at it."""
    server.serve_jwks(public_jwk(rsa_key, KID))
    settings.SHARED_AUTH = {
        **settings.SHARED_AUTH,
        "JWKS_URL": f"{server.url}/jwks.json",
    }
    return server


@pytest.fixture
def make_token(rsa_key) -> Callable[..., str]:
    """Return a function encoding a token: valid unless told otherwise.

    The header carries ``kid`` and ``typ: at+jwt`` (RFC 9068); ``headers``
    adds to or overrides them (a ``None`` value removes one).
    """

    def make(
        key: Any = None,
        *,
        algorithm: str = "RS256",
        headers: dict[str, Any] | None = None,
        **overrides: Any,
    ) -> str:
        return signed(
            claims(**overrides),
            rsa_key if key is None else key,
            algorithm=algorithm,
            **(headers or {}),
        )

    return make


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@dataclass
class TokenEndpoint:
    """A fake gateway token endpoint (RFC 8693) on the local server.

    ``seen`` holds each request's form fields and Basic credentials;
    ``answer`` (a callable taking the form, returning ``(status, body)``) can
    be replaced; by default it issues ``xchg.<audience>.<n>`` for 300 s.
    """

    server: LocalServer
    url: str
    seen: list[dict[str, Any]] = field(default_factory=list)
    answer: Any = None

    def issue(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        token = f"xchg.{form.get('audience')}.{len(self.seen) - 1}"
        return 200, {
            "access_token": token,
            "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": form.get("scope", ""),
        }


@pytest.fixture
def token_endpoint(server: LocalServer, settings) -> TokenEndpoint:
    """A token endpoint on ``server``, and this service's client credentials."""
    import base64
    from urllib.parse import parse_qsl

    endpoint = TokenEndpoint(server=server, url=f"{server.url}/token/")
    endpoint.answer = endpoint.issue

    def route(handler: BaseHTTPRequestHandler) -> tuple[int, str, str]:
        length = int(handler.headers.get("Content-Length") or 0)
        form = dict(parse_qsl(handler.rfile.read(length).decode()))
        basic = handler.headers.get("Authorization", "").removeprefix("Basic ")
        form["_basic"] = base64.b64decode(basic).decode() if basic else ""
        form["_request_id"] = handler.headers.get("X-Request-ID", "")
        with server.lock:
            endpoint.seen.append(form)
        status, body = endpoint.answer(form)
        return status, "application/json", json.dumps(body)

    server.routes["/token/"] = route
    settings.SHARED_AUTH = {
        **settings.SHARED_AUTH,
        "TOKEN_URL": endpoint.url,
        "CLIENT_ID": "orders",
        "CLIENT_SECRET": "s3cret:/x",
    }
    return endpoint
