"""What the proxy's hot path relies on: key lookups without a directory listing,
one log line per proxied request, and tokens verified once per process.

A settled key directory (mtime older than ``SETTLE_NS``) is not listed again
until its mtime changes; a rotation or a prune by another process changes it,
so it is seen at once.
"""

import logging
import os
import time
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import jwt
import pytest
from django.test import RequestFactory
from gunicorn.config import Config
from rest_framework.exceptions import AuthenticationFailed

from gateway_project.identity import keys
from gateway_project.identity.authentication import GatewayJWTAuthentication
from gateway_project.identity.keys import KeyStore
from gateway_project.identity.tokens import access_token_for
from gateway_project.proxy.accesslog import PROXY_LOGGED, AccessLogger
from shared_auth import authentication


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


# -- one log line per proxied request ---------------------------------------------
def access_logger(tmp_path) -> tuple[AccessLogger, Path]:
    path = tmp_path / "access.log"
    config = Config()
    config.set("accesslog", str(path))
    config.set("access_log_format", '"%(r)s" %(s)s')
    return AccessLogger(config), path


def access_line(tmp_path, environ: dict) -> str:
    logger, path = access_logger(tmp_path)
    response = SimpleNamespace(status="200 OK", sent=2, headers=[])
    request = SimpleNamespace(
        method="GET", uri="/api/orders/", query="", version=(1, 1), headers=[]
    )
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/api/orders/",
        "SERVER_PROTOCOL": "HTTP/1.1",
        **environ,
    }
    logger.access(response, request, environ, timedelta(milliseconds=1))
    return path.read_text()


def test_gunicorn_skips_the_access_line_of_requests_the_proxy_logged(tmp_path):
    assert access_line(tmp_path, {PROXY_LOGGED: True}) == ""


def test_gunicorn_writes_the_access_line_of_other_requests(tmp_path):
    assert access_line(tmp_path, {}) == '"GET /api/orders/ HTTP/1.1" 200\n'


@pytest.mark.django_db
def test_the_proxy_marks_what_it_logged(client, caplog):
    with caplog.at_level(logging.INFO, logger="gateway_project.proxy.views"):
        response = client.get("/api/orders/")
    assert response.status_code == 401
    assert response.wsgi_request.META[PROXY_LOGGED] is True


@pytest.mark.django_db
def test_without_the_proxy_line_gunicorn_keeps_its_own(client, caplog):
    with caplog.at_level(logging.WARNING, logger="gateway_project.proxy.views"):
        response = client.get("/api/orders/")
    assert PROXY_LOGGED not in response.wsgi_request.META


# -- tokens verified once per process -----------------------------------------------
@pytest.fixture
def decodes(monkeypatch) -> list[str]:
    """Record each full verification (PyJWT) of a token."""
    made: list[str] = []
    decode = jwt.decode

    def recording(token, *args, **kwargs):
        made.append(token)
        return decode(token, *args, **kwargs)

    monkeypatch.setattr(authentication.jwt, "decode", recording)
    return made


def bearer_request(token: str):
    return RequestFactory().get(
        "/api/orders/", headers={"Authorization": f"Bearer {token}"}
    )


def verify(token: str):
    return GatewayJWTAuthentication().authenticate(bearer_request(token))


@pytest.mark.django_db
def test_a_token_is_verified_once_per_process(alice, decodes):
    token = access_token_for(alice)
    first, second = verify(token), verify(token)
    assert decodes == [token]
    assert second[1].claims == first[1].claims and second[0].username == "alice"


@pytest.mark.django_db
def test_a_verified_token_still_expires(alice, decodes, monkeypatch):
    token = access_token_for(alice)
    _, verified = verify(token)
    monkeypatch.setattr(authentication, "_now", lambda: verified["exp"] + 6)
    with pytest.raises(AuthenticationFailed) as refused:
        verify(token)
    assert refused.value.get_codes() == "token_expired"
    assert decodes == [token]


@pytest.mark.django_db
def test_a_verified_token_is_still_refused_once_revoked(
    alice, django_capture_on_commit_callbacks
):
    token = access_token_for(alice)
    verify(token)
    with django_capture_on_commit_callbacks(execute=True):
        alice.is_active = False
        alice.save()
    with pytest.raises(AuthenticationFailed) as refused:
        verify(token)
    assert refused.value.get_codes() == "token_revoked"


@pytest.mark.django_db
def test_a_verified_token_of_a_deleted_key_is_refused(alice, keys_dir, decodes):
    old = keys.signing_key()
    token = access_token_for(alice)
    verify(token)
    KeyStore(keys_dir).rotate()
    old.path.unlink()
    with pytest.raises(AuthenticationFailed) as refused:
        verify(token)
    assert refused.value.get_codes() == "token_not_valid"
