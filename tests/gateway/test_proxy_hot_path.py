"""What the proxy's hot path relies on: key lookups without a directory listing.

A settled key directory (mtime older than ``SETTLE_NS``) is not listed again
until its mtime changes; a rotation or a prune by another process changes it,
so it is seen at once.
"""

import os
import time

import pytest

from gateway_project.identity import keys
from gateway_project.identity.keys import KeyStore


def settle(directory) -> None:
    """Backdate the directory's mtime as if nothing had changed for a minute."""
    past = time.time_ns() - 60 * 1_000_000_000
    os.utime(directory, ns=(past, past))


@pytest.fixture
def listings(monkeypatch) -> list[str]:
    """Record each directory listing ``KeyStore`` makes."""
    made: list[str] = []
    read = KeyStore._read_dir_listing

    def recording(store: KeyStore) -> tuple[str, ...]:
        made.append(str(store.directory))
        return read(store)

    monkeypatch.setattr(KeyStore, "_read_dir_listing", recording)
    return made


def test_a_settled_directory_is_listed_once(keys_dir, listings):
    store = KeyStore(keys_dir)
    settle(keys_dir)
    kid = store.signing_key().kid
    for _ in range(5):
        assert store.verifying_jwk(kid) is not None
    assert listings == [str(keys_dir)]


def test_a_recent_change_is_listed_on_every_call(keys_dir, listings):
    store = KeyStore(keys_dir)
    os.utime(keys_dir)  # changed just now
    kid = store.signing_key().kid
    store.verifying_jwk(kid)
    store.verifying_jwk(kid)
    assert len(listings) == 3


def test_a_rotation_after_settling_is_seen_at_once(keys_dir):
    store = KeyStore(keys_dir)
    settle(keys_dir)
    before = store.signing_key()
    new = KeyStore(keys_dir).rotate()  # another process's store
    assert store.signing_key().kid == new.kid != before.kid
    assert store.verifying_jwk(new.kid) is not None
    assert [k["kid"] for k in store.jwks()["keys"]] == [new.kid, before.kid]


def test_a_deleted_key_stops_verifying_at_once(keys_dir):
    store = KeyStore(keys_dir)
    old = store.signing_key()
    KeyStore(keys_dir).rotate()
    settle(keys_dir)
    assert store.verifying_jwk(old.kid) is not None
    old.path.unlink()  # as prune_signing_keys does, from another process
    assert store.verifying_jwk(old.kid) is None


def test_a_missing_directory_is_looked_at_again_on_every_call(tmp_path, settings):
    settings.JWT_SIGNING_KEYS_DIR = tmp_path / "not-yet"
    assert keys.public_key("any") is None
    key = keys.signing_key()  # created on first use
    assert keys.public_key(key.kid) is not None
