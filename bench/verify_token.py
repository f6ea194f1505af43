"""Micro-benchmark: verify one access token with shared_auth's JWTAuthentication.

``python bench/verify_token.py [--number 2000] [--repeat 5]`` signs a token
with a fresh key per algorithm (RS256, ES256, EdDSA), serves the public key as
a JWKS on 127.0.0.1:0, configures a minimal Django (local-memory cache), warms
the key cache, then prints the best per-call time in microseconds of:

- ``authenticate``: the whole DRF step (header parsing, key lookup from the
  cached JWKS, PyJWT signature and claim checks, the TokenUser);
- ``pyjwt_decode``: PyJWT's ``jwt.decode`` alone with the key object, the floor.

It also checks that the timed loop made no JWKS fetch after the first.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import timeit
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import django
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from django.conf import settings
from jwt.algorithms import get_default_algorithms

# The project's own modules are imported once django is set up, from the root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ISSUER = "https://issuer.bench"


def new_key(alg: str) -> Any:
    """Return a new private key for ``alg``."""
    if alg == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    return ed25519.Ed25519PrivateKey.generate()


def serve(jwks: dict[str, Any]) -> tuple[str, dict[str, int]]:
    """Serve ``jwks`` on 127.0.0.1:0; return its URL and a hit counter."""
    hits = {"count": 0}
    body = json.dumps(jwks).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            hits["count"] += 1
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{httpd.server_address[1]}/jwks.json", hits


def best_us(func: Any, number: int, repeat: int) -> float:
    """Return the best per-call time of ``func`` in microseconds."""
    return min(timeit.repeat(func, number=number, repeat=repeat)) / number * 1e6


def measure(auth: Any, alg: str, key: Any, number: int, repeat: int) -> tuple:
    """Return the per-call µs of ``auth.authenticate`` verifying the token afresh
    (the process's verified tokens forgotten before each call) and of
    ``jwt.decode``."""
    from django.test import RequestFactory

    from shared_auth import authentication

    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": ["orders", "customers"],
        "sub": "42",
        "exp": now + 3600,
        "iat": now,
        "jti": uuid.uuid4().hex,
        "token_type": "access",
        "username": "alice",
        "roles": ["clerk"],
    }
    token = jwt.encode(
        claims, key, algorithm=alg, headers={"kid": alg, "typ": "at+jwt"}
    )
    request = RequestFactory().get("/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert auth.authenticate(request) is not None  # warms the key cache
    public = key.public_key()

    def afresh() -> object:
        authentication._verified.clear()
        return auth.authenticate(request)

    full = best_us(afresh, number, repeat)
    floor = best_us(
        lambda: jwt.decode(
            token, public, algorithms=[alg], audience="orders", issuer=ISSUER
        ),
        number,
        repeat,
    )
    return full, floor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    keys = {alg: new_key(alg) for alg in ("RS256", "ES256", "EdDSA")}
    jwks = {
        "keys": [
            {
                **get_default_algorithms()[alg].to_jwk(key.public_key(), as_dict=True),
                "kid": alg,
                "alg": alg,
                "use": "sig",
            }
            for alg, key in keys.items()
        ]
    }
    url, hits = serve(jwks)
    settings.configure(
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "rest_framework",
            "shared_auth",
        ],
        SECRET_KEY="bench-only",
        CACHES={
            "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
        },
        SHARED_AUTH={"AUDIENCE": "orders", "ISSUER": ISSUER, "JWKS_URL": url},
        USE_TZ=True,
        LOGGING_CONFIG=None,
    )
    django.setup()
    from shared_auth.authentication import JWTAuthentication

    auth = JWTAuthentication()
    print(f"{'alg':6} {'authenticate':>14} {'pyjwt_decode':>14}")
    for alg, key in keys.items():
        full, floor = measure(auth, alg, key, args.number, args.repeat)
        print(f"{alg:6} {full:11.1f} µs {floor:11.1f} µs")
    print(f"JWKS fetches: {hits['count']} (one, before the timed loops)")


if __name__ == "__main__":
    main()
