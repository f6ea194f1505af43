"""The gateway's signing keys: private keys on disk, public keys as a JWKS.

Each key is one PKCS#8 PEM file (mode 0600) in ``settings.JWT_SIGNING_KEYS_DIR``,
named ``<UTC creation time>_<kid>.pem``; the newest is the signing key, the
others only verify. ``kid`` is the key's RFC 7638 thumbprint, computed from the
key itself (the file name is informational).

``key_store`` is loaded once per process and reloaded whenever the directory's
listing changes, so a ``rotate_signing_key`` or ``prune_signing_keys`` run from
another process reaches every running worker on its next call, without restart.
A call only reads the directory's modification time (a file created, renamed
or deleted in it changes it); the listing is read again when that changed or
is too recent to be trusted (``SETTLE_NS``).
"""

from __future__ import annotations

import base64
import fcntl
import functools
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from django.conf import settings
from jwt import PyJWK
from jwt.algorithms import get_default_algorithms

logger = logging.getLogger(__name__)

SUPPORTED_ALGORITHMS = ("RS256", "ES256", "EdDSA")
# The members RFC 7638 hashes, per key type; also the only members published.
THUMBPRINT_MEMBERS = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y")}
THUMBPRINT_MEMBERS["OKP"] = ("crv", "kty", "x")
TIME_FORMAT = "%Y%m%dT%H%M%S%fZ"
# Two changes within one tick of the kernel's file clock can leave the same
# directory mtime: a listing is trusted by mtime alone once it is this old.
SETTLE_NS = 1_000_000_000

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey


def generate_private_key(alg: str) -> PrivateKey:
    """Return a new private key for ``alg`` (RS256, ES256 or EdDSA)."""
    if alg == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(
        f"Unsupported signing algorithm {alg!r}; use {SUPPORTED_ALGORITHMS}"
    )


def algorithm_for(key: PrivateKey | PublicKey) -> str:
    """Return the JWS ``alg`` that signs with ``key``."""
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return "RS256"
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return "ES256"
    return "EdDSA"


def public_jwk(public_key: PublicKey) -> dict[str, str]:
    """Return ``public_key`` as a JWK with ``kid`` (RFC 7638), ``alg`` and ``use``.

    Only the members RFC 7638 lists are kept, so no private member can leak.
    """
    alg = algorithm_for(public_key)
    full = get_default_algorithms()[alg].to_jwk(public_key, as_dict=True)
    members = {name: full[name] for name in THUMBPRINT_MEMBERS[full["kty"]]}
    canonical = json.dumps(members, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).digest()
    kid = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return {**members, "kid": kid, "alg": alg, "use": "sig"}


@dataclass(frozen=True)
class SigningKey:
    """One key of the store: its ``kid``, ``alg``, keys and creation time."""

    kid: str
    alg: str
    private_key: PrivateKey
    jwk: dict[str, str]
    created_at: datetime
    path: Path

    @property
    def public_key(self) -> PublicKey:
        return self.private_key.public_key()


@dataclass(frozen=True)
class _Snapshot:
    """What one listing of the directory holds, swapped in as a whole."""

    directory: Path
    listing: tuple[str, ...]
    mtime_ns: int | None  # of the directory, when it had settled; else None
    keys: tuple[SigningKey, ...]  # oldest first; the last one signs
    by_kid: dict[str, PyJWK]
    jwks: dict[str, Any]


class KeyStore:
    """The keys in ``directory`` (default ``settings.JWT_SIGNING_KEYS_DIR``).

    Reloaded when the directory's listing changes. The first signing request
    creates a key (``JWT_SIGNING_ALGORITHM``) if the directory has none.
    """

    def __init__(self, directory: Path | None = None) -> None:
        self._directory = directory
        self._lock = threading.Lock()
        self._snapshot: _Snapshot | None = None

    # -- reading -------------------------------------------------------------
    @property
    def directory(self) -> Path:
        return self._directory or _path(settings.JWT_SIGNING_KEYS_DIR)

    def keys(self) -> tuple[SigningKey, ...]:
        """Return every key on disk, oldest first (reloading if the dir changed)."""
        return self._current().keys

    def signing_key(self) -> SigningKey:
        """Return the key that signs new tokens, creating one if there is none."""
        keys = self.keys()
        if not keys:
            with self._locked():  # another worker may be creating it right now
                if not self.keys():
                    self._write_key(settings.JWT_SIGNING_ALGORITHM, _now())
            keys = self.keys()
        return keys[-1]

    def public_key(self, kid: str | None) -> PublicKey | None:
        """Return the public key whose ``kid`` is ``kid``, or None if unknown."""
        jwk = self.verifying_jwk(kid)
        return jwk.key if jwk else None

    def verifying_jwk(self, kid: str | None) -> PyJWK | None:
        """Return the public key ``kid`` bound to its algorithm, or None if unknown."""
        return self._current().by_kid.get(kid) if isinstance(kid, str) else None

    def jwks(self) -> dict[str, Any]:
        """Return the JWKS of every key on disk (public members only)."""
        self.signing_key()
        return self._current().jwks

    # -- writing -------------------------------------------------------------
    def rotate(self, alg: str | None = None, now: datetime | None = None) -> SigningKey:
        """Create a new key and make it the signing key; the old ones keep verifying."""
        with self._locked():
            self._write_key(alg or settings.JWT_SIGNING_ALGORITHM, now or _now())
        return self.signing_key()

    def prune(self, now: datetime | None = None) -> list[SigningKey]:
        """Delete the keys no token that is still valid can have been signed with.

        A key stops signing when the next one is created; it is kept for the
        longest token lifetime (plus leeway) after that. Return the deleted keys.
        """
        keep_for = retention()
        with self._locked():
            keys = self.keys()
            retired = [
                key
                for key, successor in zip(keys, keys[1:], strict=False)
                if successor.created_at + keep_for <= (now or _now())
            ]
            for key in retired:
                key.path.unlink(missing_ok=True)
                logger.info("Pruned signing key %s", key.kid)
        return retired

    # -- internals -----------------------------------------------------------
    def _read_dir_listing(self) -> tuple[str, ...]:
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return ()
        return tuple(sorted(name for name in names if name.endswith(".pem")))

    def _current(self) -> _Snapshot:
        directory, snapshot = self.directory, self._snapshot
        mtime_ns = _settled_mtime_ns(directory)
        if (
            snapshot
            and snapshot.directory == directory
            and snapshot.mtime_ns is not None
            and snapshot.mtime_ns == mtime_ns
        ):
            return snapshot
        listing = self._read_dir_listing()
        if snapshot and snapshot.directory == directory and snapshot.listing == listing:
            self._snapshot = replace(snapshot, mtime_ns=mtime_ns)
            return self._snapshot
        with self._lock:
            keys = tuple(k for name in listing if (k := _load(directory / name)))
            self._snapshot = _Snapshot(
                directory=directory,
                listing=listing,
                mtime_ns=mtime_ns,
                keys=keys,
                by_kid={key.kid: PyJWK(key.jwk) for key in keys},
                jwks={"keys": [key.jwk for key in reversed(keys)]},
            )
            logger.info("Loaded %d signing key(s) from %s", len(keys), directory)
            return self._snapshot

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialize writers across processes (gunicorn workers, commands)."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _write_key(self, alg: str, now: datetime) -> None:
        private_key = generate_private_key(alg)
        kid = public_jwk(private_key.public_key())["kid"]
        path = self.directory / f"{now.strftime(TIME_FORMAT)}_{kid}.pem"
        pem = private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        tmp = self.directory / f".{kid}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        os.replace(tmp, path)
        logger.info("Created %s signing key %s", alg, kid)


@functools.lru_cache(maxsize=8)
def _path(value: str | Path) -> Path:
    """Return ``value`` as a ``Path``, made once per value (read per request)."""
    return Path(value)


def _settled_mtime_ns(directory: Path) -> int | None:
    """Return the directory's mtime if older than ``SETTLE_NS``, else None.

    Read before the listing, so a change made meanwhile shows as a new mtime.
    """
    try:
        mtime_ns = os.stat(directory).st_mtime_ns
    except OSError:
        return None
    return mtime_ns if time.time_ns() - mtime_ns > SETTLE_NS else None


def _now() -> datetime:
    return datetime.now(UTC)


def retention() -> timedelta:
    """Return how long a key is kept after it stopped signing."""
    from rest_framework_simplejwt.settings import api_settings

    from gateway_project.identity.lifetimes import leeway

    lifetimes = (
        api_settings.ACCESS_TOKEN_LIFETIME,
        api_settings.REFRESH_TOKEN_LIFETIME,
    )
    return max(lifetimes) + leeway()


def _load(path: Path) -> SigningKey | None:
    """Return the key in ``path``, or None (logged) if it cannot be used."""
    try:
        created_at = datetime.strptime(path.name.split("_", 1)[0], TIME_FORMAT)
        private_key = serialization.load_pem_private_key(path.read_bytes(), None)
        if not isinstance(private_key, PrivateKey):
            raise ValueError(f"unsupported key type {type(private_key).__name__}")
        jwk = public_jwk(private_key.public_key())
    except (OSError, ValueError, TypeError) as exc:
        logger.error("Ignoring signing key file %s: %s", path, exc)
        return None
    return SigningKey(
        kid=jwk["kid"],
        alg=jwk["alg"],
        private_key=private_key,
        jwk=jwk,
        created_at=created_at.replace(tzinfo=UTC),
        path=path,
    )


key_store = KeyStore()


def signing_key() -> SigningKey:
    """Return the current signing key (kid, alg, private key) of this process."""
    return key_store.signing_key()


def public_key(kid: str | None) -> PublicKey | None:
    """Return the public key ``kid`` from memory, or None if it is unknown."""
    return key_store.public_key(kid)


def jwks() -> dict[str, Any]:
    """Return the JWKS document: every public key still on disk, newest first."""
    return key_store.jwks()
