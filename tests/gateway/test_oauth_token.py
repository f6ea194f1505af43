"""POST /auth/oauth/token/ with client_credentials: client authentication,
scopes, audiences and every refusal (RFC 6749 sections 2.3, 4.4, 5.2)."""

import base64
import json
import logging

import pytest

from gateway_project.identity.throttling import LoginFailureThrottle
from gateway_project.oauth import selectors
from gateway_project.oauth.models import Client
from gateway_project.oauth.services import client_deactivate
from tests.gateway.oauth_support import (
    TOKEN_URL,
    assert_error,
    basic,
    decode,
    header,
    post_form,
)

pytestmark = pytest.mark.django_db
CC = {"grant_type": "client_credentials"}


@pytest.fixture
def batch(make_client):
    """Client "batch": orders:read and customers:read, both audiences."""
    return make_client(
        "batch", scopes=["orders:read", "customers:read"], audiences=None
    )


def form_auth(batch) -> dict[str, str]:
    client, secret = batch
    return {"client_id": client.client_id, "client_secret": secret}


def test_form_authentication_gets_a_machine_token(api, batch, settings):
    response = post_form(api, TOKEN_URL, {**CC, **form_auth(batch)})
    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    assert response["Pragma"] == "no-cache"
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 300
    assert body["scope"] == "orders:read customers:read"
    assert header(body["access_token"])["typ"] == "at+jwt"
    claims = decode(body["access_token"])
    assert claims["sub"] == claims["client_id"] == "batch"
    assert claims["aud"] == ["orders", "customers"]
    assert claims["iss"] == settings.JWT_ISSUER
    assert claims["scope"] == "orders:read customers:read"
    assert isinstance(claims["iat"], float) and claims["jti"]
    assert "username" not in claims and "roles" not in claims


def test_basic_authentication_gets_a_machine_token(api, batch):
    client, secret = batch
    response = post_form(api, TOKEN_URL, CC, **basic("batch", secret))
    assert response.status_code == 200, response.content
    assert decode(response.json()["access_token"])["sub"] == "batch"


def test_basic_credentials_are_form_decoded(api, make_client):
    # RFC 6749 2.3.1: id and secret are form-urlencoded before base64.
    make_client("odd", secret="a+b:c%d é")
    response = post_form(api, TOKEN_URL, CC, **basic("odd", "a+b:c%d é"))
    assert response.status_code == 200, response.content


def test_a_machine_token_is_accepted_at_the_edge(api, batch):
    token = post_form(api, TOKEN_URL, {**CC, **form_auth(batch)}).json()
    response = api.get(
        "/auth/me/", HTTP_AUTHORIZATION="Bearer " + token["access_token"]
    )
    assert response.status_code == 200
    assert response.json()["sub"] == "batch"


def test_scope_and_audience_narrow_the_token(api, batch):
    data = {**CC, **form_auth(batch), "scope": "customers:read", "audience": "orders"}
    body = post_form(api, TOKEN_URL, data).json()
    assert body["scope"] == "customers:read"
    claims = decode(body["access_token"])
    assert claims["aud"] == ["orders"] and claims["scope"] == "customers:read"


@pytest.mark.parametrize(
    "scope", ["orders:write", "orders:read orders:write", "reservations:write", "x"]
)
def test_a_scope_outside_the_clients_is_invalid_scope(api, batch, scope):
    response = post_form(api, TOKEN_URL, {**CC, **form_auth(batch), "scope": scope})
    assert_error(response, 400, "invalid_scope")


def test_an_audience_outside_the_clients_is_invalid_target(api, make_client):
    client, secret = make_client("narrow", audiences=["orders"])
    data = {**CC, "client_id": "narrow", "client_secret": secret}
    for audience in ("customers", "gateway", "orders customers"):
        response = post_form(api, TOKEN_URL, {**data, "audience": audience})
        assert_error(response, 400, "invalid_target")


def test_no_client_authentication_is_invalid_client(api, batch):
    response = post_form(api, TOKEN_URL, CC)
    assert_error(response, 401, "invalid_client")
    assert response["WWW-Authenticate"].startswith("Basic")
    # A client id without its secret is no authentication either.
    response = post_form(api, TOKEN_URL, {**CC, "client_id": "batch"})
    assert_error(response, 401, "invalid_client")


def test_wrong_unknown_and_borrowed_secrets_get_one_answer(api, batch, make_client):
    _, other_secret = make_client("other")
    answers = []
    for client_id, secret in [
        ("batch", "wrong"),
        ("batch", other_secret),  # another client's secret
        ("nobody", "wrong"),
        ("batch", ""),
    ]:
        data = {**CC, "client_id": client_id, "client_secret": secret}
        response = post_form(api, TOKEN_URL, data, REMOTE_ADDR=f"10.9.0.{len(answers)}")
        body = assert_error(response, 401, "invalid_client")
        assert "WWW-Authenticate" not in response  # form, not Basic (RFC 6749 5.2)
        answers.append(body)
    assert all(answer == answers[0] for answer in answers)


def test_a_wrong_basic_secret_gets_a_basic_challenge(api, batch):
    response = post_form(api, TOKEN_URL, CC, **basic("batch", "wrong"))
    assert_error(response, 401, "invalid_client")
    assert response["WWW-Authenticate"] == 'Basic realm="oauth"'


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic !!!notbase64",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic " + base64.b64encode(b":secret").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:x").decode(),
        "Bearer abc.def.ghi",
        "Basic",
    ],
)
def test_malformed_basic_credentials_are_invalid_client(api, batch, authorization):
    response = post_form(api, TOKEN_URL, CC, HTTP_AUTHORIZATION=authorization)
    assert_error(response, 401, "invalid_client")
    assert response["WWW-Authenticate"].startswith("Basic")


def test_two_credentials_at_once_are_invalid_request(api, batch):
    client, secret = batch
    both = {**CC, "client_secret": secret}
    response = post_form(api, TOKEN_URL, both, **basic("batch", secret))
    assert_error(response, 400, "invalid_request")
    other = {**CC, "client_id": "other"}
    response = post_form(api, TOKEN_URL, other, **basic("batch", secret))
    assert_error(response, 400, "invalid_request")
    # The same client id in the body, as some libraries send it, is fine.
    same = {**CC, "client_id": "batch"}
    assert post_form(api, TOKEN_URL, same, **basic("batch", secret)).status_code == 200


def test_a_json_body_is_invalid_request(api, batch):
    response = api.post(TOKEN_URL, {**CC, **form_auth(batch)}, format="json")
    assert_error(response, 400, "invalid_request")


def test_a_multipart_body_is_invalid_request(api, batch):
    response = api.post(TOKEN_URL, {**CC, **form_auth(batch)})
    assert_error(response, 400, "invalid_request")


def test_get_is_refused(api, batch):
    response = api.get(TOKEN_URL, {**CC, **form_auth(batch)})
    assert_error(response, 405, "invalid_request")


def test_secrets_in_the_query_string_are_refused(api, batch):
    client, secret = batch
    response = api.generic(
        "POST",
        f"{TOKEN_URL}?client_secret={secret}",
        "grant_type=client_credentials&client_id=batch",
        content_type="application/x-www-form-urlencoded",
    )
    assert_error(response, 400, "invalid_request")


def test_a_repeated_parameter_is_invalid_request(api, batch):
    data = {**form_auth(batch), "grant_type": ["client_credentials"] * 2}
    assert_error(post_form(api, TOKEN_URL, data), 400, "invalid_request")
    data = {**CC, **form_auth(batch), "scope": ["orders:read", "customers:read"]}
    assert_error(post_form(api, TOKEN_URL, data), 400, "invalid_request")


@pytest.mark.parametrize(
    "field", ["client_id", "client_secret", "scope", "audience", "grant_type", "junk"]
)
def test_oversized_fields_are_invalid_request(api, batch, field):
    data = {**CC, **form_auth(batch), field: "x" * 20_000}
    assert_error(post_form(api, TOKEN_URL, data), 400, "invalid_request")


def test_an_oversized_body_is_refused_unparsed(api, batch):
    data = {**CC, **form_auth(batch), "junk": "x" * 1_000_000}
    assert_error(post_form(api, TOKEN_URL, data), 413, "invalid_request")


def test_an_oversized_basic_header_is_invalid_request(api, batch):
    response = post_form(api, TOKEN_URL, CC, HTTP_AUTHORIZATION="Basic " + "A" * 5000)
    assert_error(response, 400, "invalid_request")


def test_thousands_of_fields_are_invalid_request(api, batch):
    body = "&".join(f"f{n}=1" for n in range(3000))
    response = api.generic(
        "POST", TOKEN_URL, body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize(
    ("grant_type", "error"),
    [
        ("", "invalid_request"),
        ("password", "unsupported_grant_type"),
        ("refresh_token", "unsupported_grant_type"),
        ("authorization_code", "unsupported_grant_type"),
        ("urn:ietf:params:oauth:grant-type:jwt-bearer", "unsupported_grant_type"),
    ],
)
def test_grants_other_than_the_two_are_refused(api, batch, grant_type, error):
    data = {**form_auth(batch), "grant_type": grant_type}
    assert_error(post_form(api, TOKEN_URL, data), 400, error)


def test_a_deactivated_client_is_refused_at_once(api, batch):
    client, _ = batch
    token = post_form(api, TOKEN_URL, {**CC, **form_auth(batch)}).json()["access_token"]
    client_deactivate(client=client)
    response = post_form(api, TOKEN_URL, {**CC, **form_auth(batch)})
    assert_error(response, 401, "invalid_client")
    # Its tokens already issued are refused at the edge too.
    me = api.get("/auth/me/", HTTP_AUTHORIZATION="Bearer " + token)
    assert me.status_code == 401


def test_the_secret_is_stored_hashed(batch):
    client, secret = batch
    stored = Client.objects.get(client_id="batch").secret_hash
    assert secret not in stored
    assert stored.startswith("md5$")  # the test settings' hasher


def test_an_unknown_client_costs_a_hashing_too(batch, monkeypatch):
    calls = []
    real = selectors.make_password
    monkeypatch.setattr(
        selectors, "make_password", lambda s: calls.append(1) or real(s)
    )
    assert selectors.client_authenticate(client_id="nobody", secret="x") is None
    assert calls == [1]


def test_the_secret_is_never_logged(api, batch, caplog):
    client, secret = batch
    caplog.set_level(logging.DEBUG)
    post_form(api, TOKEN_URL, {**CC, **form_auth(batch)})
    post_form(api, TOKEN_URL, CC, **basic("batch", secret + "x"))
    post_form(api, TOKEN_URL, {**CC, "client_id": secret, "client_secret": secret})
    assert caplog.records
    assert secret not in caplog.text


@pytest.fixture
def clock(monkeypatch):
    now = [1_000_000.0]
    monkeypatch.setattr(LoginFailureThrottle, "timer", lambda self: now[0])
    return now


@pytest.mark.parametrize(
    "variant", ["batch", " batch", "BATCH", "ｂａｔｃｈ", "batch\t", "Batch "]
)
def test_failed_client_authentication_is_throttled_per_client_id(
    api, batch, clock, variant
):
    client, secret = batch
    for n in range(5):
        data = {**CC, "client_id": variant, "client_secret": "wrong"}
        response = post_form(api, TOKEN_URL, data, REMOTE_ADDR=f"10.8.0.{n}")
        assert_error(response, 401, "invalid_client")
    # The right secret, from a fresh address, is refused while throttled.
    data = {**CC, **form_auth(batch)}
    response = post_form(api, TOKEN_URL, data, REMOTE_ADDR="192.0.2.50")
    assert_error(response, 429, "temporarily_unavailable")
    assert int(response["Retry-After"]) > 0
    response = post_form(
        api, TOKEN_URL, CC, REMOTE_ADDR="192.0.2.51", **basic("batch", secret)
    )
    assert response.status_code == 429
    clock[0] += 61
    assert post_form(api, TOKEN_URL, data, REMOTE_ADDR="192.0.2.50").status_code == 200


def test_failed_client_authentication_counts_per_address(api, batch, clock):
    for n in range(20):
        data = {**CC, "client_id": f"guess{n}", "client_secret": "x"}
        post_form(api, TOKEN_URL, data, REMOTE_ADDR="192.0.2.9")
    response = post_form(
        api, TOKEN_URL, {**CC, **form_auth(batch)}, REMOTE_ADDR="192.0.2.9"
    )
    assert response.status_code == 429
    other = post_form(
        api, TOKEN_URL, {**CC, **form_auth(batch)}, REMOTE_ADDR="192.0.2.10"
    )
    assert other.status_code == 200


def test_an_error_body_is_json_even_for_hostile_bytes(api, batch):
    response = api.generic(
        "POST",
        TOKEN_URL,
        b"grant_type=%ff%fe&client_id=%00&client_secret=\xff",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code in (400, 401)
    json.loads(response.content)


def test_a_secret_is_hashed_once_per_process(batch, monkeypatch):
    client, secret = batch
    calls = []
    real = selectors.check_password
    monkeypatch.setattr(
        selectors, "check_password", lambda s, h: calls.append(1) or real(s, h)
    )
    for _ in range(3):
        assert selectors.client_authenticate(client_id="batch", secret=secret)
    assert calls == [1]
    # A wrong secret still costs a full check (and fails).
    assert selectors.client_authenticate(client_id="batch", secret="x") is None
    assert calls == [1, 1]
    # A new secret: the old one is refused, the new one checked once.
    from gateway_project.oauth.services import client_secret_set

    new = client_secret_set(client=client)
    assert selectors.client_authenticate(client_id="batch", secret=secret) is None
    assert selectors.client_authenticate(client_id="batch", secret=new)
    assert selectors.client_authenticate(client_id="batch", secret=new)
    assert calls == [1, 1, 1, 1]


def test_a_broken_throttle_cache_does_not_stop_clients(api, batch, settings, caplog):
    settings.CACHES = {
        **settings.CACHES,
        "login_throttle": {"BACKEND": "tests.shared_auth.broken_cache.BrokenCache"},
    }
    assert post_form(api, TOKEN_URL, {**CC, **form_auth(batch)}).status_code == 200
    data = {**CC, "client_id": "batch", "client_secret": "wrong"}
    assert_error(post_form(api, TOKEN_URL, data), 401, "invalid_client")
    assert "counting in this process" in caplog.text


def test_a_machine_token_counts_as_client_credentials(api, batch):
    from prometheus_client import REGISTRY

    def issued() -> float:
        labels = {"grant_type": "client_credentials"}
        return REGISTRY.get_sample_value("gateway_tokens_issued_total", labels) or 0

    before = issued()
    assert post_form(api, TOKEN_URL, {**CC, "client_id": "batch"}).status_code == 401
    assert issued() == before
    assert post_form(api, TOKEN_URL, {**CC, **form_auth(batch)}).status_code == 200
    assert issued() == before + 1
