"""The key store: keys on disk, kid thumbprints, reloads, rotation, pruning."""

import io
import stat
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from django.core.management import call_command
from jwt.algorithms import RSAAlgorithm

from gateway_project.identity import keys
from gateway_project.identity.checks import check_signing_algorithm
from gateway_project.identity.keys import KeyStore, key_store, public_jwk, retention

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "k"}


def test_first_use_creates_a_private_key_only_the_owner_can_read(settings, tmp_path):
    settings.JWT_SIGNING_KEYS_DIR = tmp_path / "fresh"
    key = keys.signing_key()
    files = list((tmp_path / "fresh").glob("*.pem"))
    assert [f.name for f in files] == [key.path.name]
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "fresh").stat().st_mode) == 0o700
    assert key.alg == "RS256"
    assert key.kid in files[0].name


def test_kid_is_the_rfc7638_thumbprint():
    # RFC 7638 section 3.1: this key's thumbprint.
    example = {
        "kty": "RSA",
        "e": "AQAB",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPF"
        "FxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7"
        "_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQ"
        "vRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G"
        "_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
    }
    jwk = public_jwk(RSAAlgorithm.from_jwk(example))
    assert jwk["kid"] == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


@pytest.mark.parametrize(("alg", "kty"), [("ES256", "EC"), ("EdDSA", "OKP")])
def test_algorithm_of_new_keys_is_a_setting(settings, tmp_path, alg, kty):
    settings.JWT_SIGNING_ALGORITHM = alg
    settings.JWT_SIGNING_KEYS_DIR = tmp_path / "other"
    key = keys.signing_key()
    assert key.alg == alg
    [published] = keys.jwks()["keys"]
    assert (published["kty"], published["alg"], published["use"]) == (kty, alg, "sig")


def test_jwks_holds_public_members_only(keys_dir):
    KeyStore(keys_dir).rotate("ES256")
    KeyStore(keys_dir).rotate("EdDSA")
    published = keys.jwks()["keys"]
    assert len(published) == 3
    for jwk in published:
        assert not PRIVATE_MEMBERS & set(jwk)
        assert {"kty", "kid", "alg", "use"} <= set(jwk)
        assert isinstance(jwt.PyJWK(jwk).key, type(keys.public_key(jwk["kid"])))


def test_public_key_of_an_unknown_kid_is_none():
    assert keys.public_key("no-such-kid") is None
    assert keys.public_key(None) is None
    assert keys.public_key(keys.signing_key().kid) is not None


def test_a_rotation_by_another_process_is_seen_without_restart(keys_dir):
    before = key_store.signing_key()
    new = KeyStore(keys_dir).rotate()  # another process's store, same directory
    assert key_store.signing_key().kid == new.kid != before.kid
    assert key_store.public_key(before.kid) is not None
    assert [k["kid"] for k in keys.jwks()["keys"]] == [new.kid, before.kid]


def test_rotate_command_makes_a_new_signing_key(keys_dir):
    before = keys.signing_key().kid
    call_command("rotate_signing_key", "--algorithm", "ES256")
    assert keys.signing_key().kid != before
    assert keys.signing_key().alg == "ES256"
    assert len(keys.jwks()["keys"]) == 2


def test_prune_keeps_keys_while_their_tokens_may_live(tmp_path):
    store = KeyStore(tmp_path / "prune")
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    old = store.rotate(now=t0)
    current = store.rotate(now=t0 + timedelta(hours=1))
    retired_at = t0 + timedelta(hours=1)
    assert store.prune(now=retired_at + retention() - timedelta(seconds=1)) == []
    assert [k.kid for k in store.prune(now=retired_at + retention())] == [old.kid]
    assert [k.kid for k in store.keys()] == [current.kid]
    assert store.prune(now=t0 + timedelta(days=365)) == []  # never the current key


def test_retention_is_the_longest_lifetime_plus_leeway():
    assert retention() == timedelta(days=1, seconds=5)


def test_prune_command_reports_what_it_kept(keys_dir):
    out = io.StringIO()
    call_command("prune_signing_keys", stdout=out)
    assert "0 key(s) deleted, 1 kept" in out.getvalue()
    assert len(keys.jwks()["keys"]) == 1


def test_an_unreadable_key_file_is_ignored(keys_dir, caplog):
    good = keys.signing_key()
    (keys_dir / "29991231T000000000000Z_broken.pem").write_text("not a key")
    assert keys.signing_key().kid == good.kid
    assert "Ignoring signing key file" in caplog.text


def test_only_files_that_hold_no_key_still_get_a_signing_key(settings, tmp_path):
    settings.JWT_SIGNING_KEYS_DIR = tmp_path / "junk"
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "20260101T000000000000Z_x.pem").write_text("junk")
    assert keys.signing_key().alg == "RS256"


@pytest.mark.parametrize(
    ("alg", "errors"), [("HS256", ["identity.E001"]), ("ES256", [])]
)
def test_a_symmetric_signing_algorithm_fails_the_system_check(settings, alg, errors):
    settings.JWT_SIGNING_ALGORITHM = alg
    assert [error.id for error in check_signing_algorithm()] == errors
