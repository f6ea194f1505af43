"""Reads of the client registry."""

import hashlib
import hmac

from django.contrib.auth.hashers import check_password, make_password

from gateway_project.oauth.models import Client

# Secrets this process verified: (client_id, secret_hash) -> SHA-256 of the
# secret. Django's default hasher costs ~0.7 s of CPU per check (PBKDF2, a
# million rounds), which a service exchanging tokens would pay per call; a
# secret is 256 random bits, so its SHA-256 is as safe to hold as the hash.
# A new secret changes ``secret_hash`` and so misses. Bounded: emptied when full.
MAX_VERIFIED = 1024
_verified: dict[tuple[str, str], bytes] = {}


def client_authenticate(*, client_id: str, secret: str) -> Client | None:
    """Return the active client ``client_id`` if ``secret`` is its secret, else None.

    One query. The secret is checked by Django's password hashers once per
    process and secret (constant-time comparison), then against the SHA-256
    remembered (``hmac.compare_digest``). An unknown or inactive client and a
    wrong secret cost one hashing each, so that the answer's timing tells
    nothing about which client ids exist.
    """
    client = Client.objects.filter(client_id=client_id, is_active=True).first()
    if client is None:
        make_password(secret)
        return None
    key = (client.client_id, client.secret_hash)
    digest = hashlib.sha256(secret.encode()).digest()
    known = _verified.get(key)
    if known is not None and hmac.compare_digest(known, digest):
        return client
    if not check_password(secret, client.secret_hash):
        return None
    if len(_verified) >= MAX_VERIFIED:
        _verified.clear()
    _verified[key] = digest
    return client
