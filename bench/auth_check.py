"""Service-side cost of authentication, run under a service's settings.

``python -m bench.auth_check`` with ``DJANGO_SETTINGS_MODULE`` set to a service's
settings, the stack's environment and ``BENCH_TOKEN`` (a live access token):
prints one JSON line with

- ``verify_us``: one call of the service's DRF authentication class verifying
  the token afresh (signature through the JWKS, claims, the token user), keys
  already cached; best of several batches, as ``timeit`` reports;
- ``verify_cached_us``: the same for a token this process verified before
  (only its expiry and revocation checked: what every request but a token's
  first costs);
- ``pyjwt_verify_us``: PyJWT's ``decode`` alone with a loaded key object;
- ``db_queries`` and ``network_connects`` over a batch of authentications.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import timeit
from collections.abc import Callable

BATCH = 2000
REPEAT = 5


def best_us(func: Callable[[], object], number: int = BATCH) -> float:
    """Return the best per-call time of ``func`` in microseconds."""
    return min(timeit.repeat(func, number=number, repeat=REPEAT)) / number * 1e6


def pyjwt_verify_us(token: str, jwks_url: str, audience: str, issuer: str) -> float:
    """Return PyJWT's RS256/ES256/EdDSA verify time with a loaded key object."""
    import jwt
    import requests

    keys = requests.get(jwks_url, timeout=10).json()["keys"]
    header = jwt.get_unverified_header(token)
    jwk = next(k for k in keys if k.get("kid") == header.get("kid"))
    key = jwt.PyJWK(jwk).key

    def verify() -> object:
        return jwt.decode(
            token,
            key,
            algorithms=[header["alg"]],
            audience=audience,
            issuer=issuer,
        )

    verify()
    return best_us(verify)


class ConnectCounter:
    """Count outgoing socket connections while active (bench-only instrumentation)."""

    def __init__(self) -> None:
        self.count = 0
        self._original = socket.socket.connect

    def __enter__(self) -> ConnectCounter:
        original = self._original

        def connect(sock: socket.socket, address: object) -> None:
            self.count += 1
            return original(sock, address)

        socket.socket.connect = connect  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        socket.socket.connect = self._original  # type: ignore[method-assign]


def service_auth(token: str) -> dict:
    """Return the authentication class's timing, query and connection counts."""
    from django.db import connections
    from django.test import RequestFactory
    from django.test.utils import CaptureQueriesContext
    from rest_framework.request import Request
    from rest_framework.settings import api_settings

    authenticator = api_settings.DEFAULT_AUTHENTICATION_CLASSES[0]()
    django_request = RequestFactory().get(
        "/api/orders/", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    request = Request(django_request, authenticators=[authenticator])

    from shared_auth import authentication

    def afresh() -> object:
        authentication._verified.clear()
        return authenticate()

    def authenticate() -> object:
        result = authenticator.authenticate(request)
        if result is None:
            raise RuntimeError("the token was not accepted")
        return result

    authenticate()  # fetches and caches the JWKS
    contexts = [CaptureQueriesContext(connections[alias]) for alias in connections]
    with ConnectCounter() as counter:
        for ctx in contexts:
            ctx.__enter__()
        try:
            for _ in range(100):
                authenticate()
        finally:
            for ctx in contexts:
                ctx.__exit__(None, None, None)
    return {
        "authenticator": type(authenticator).__module__
        + "."
        + type(authenticator).__qualname__,
        "verify_us": round(best_us(afresh), 1),
        "verify_cached_us": round(best_us(authenticate), 1),
        "db_queries": sum(len(ctx.captured_queries) for ctx in contexts),
        "network_connects": counter.count,
    }


def main() -> int:
    """Print the JSON result line; exit 0 even if one part failed (it says why)."""
    import django
    from django.conf import settings

    django.setup()
    token = os.environ["BENCH_TOKEN"]
    result: dict = {"settings": os.environ.get("DJANGO_SETTINGS_MODULE")}
    audience = settings.SHARED_AUTH.get("AUDIENCE", "orders")
    try:
        result["pyjwt_verify_us"] = round(
            pyjwt_verify_us(
                token, settings.JWT_JWKS_URL, audience, settings.JWT_ISSUER
            ),
            1,
        )
    except Exception as exc:  # noqa: BLE001 - reported, not fatal
        result["pyjwt_error"] = repr(exc)
    try:
        result.update(service_auth(token))
    except Exception as exc:  # noqa: BLE001 - reported, not fatal
        result["service_auth_error"] = repr(exc)
    print("BENCH_AUTH " + json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
