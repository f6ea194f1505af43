"""JWTAuthentication against valid and hostile tokens, through a real DRF view."""

import base64
import hashlib
import hmac
import json
import logging
import time
from types import SimpleNamespace
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from django.core.cache import cache
from jwt.algorithms import ECAlgorithm
from rest_framework.exceptions import AuthenticationFailed

from shared_auth import authentication
from shared_auth.authentication import JWTAuthentication
from shared_auth.context import username_var
from shared_auth.jwks import reset_jwks_clients
from tests.shared_auth.conftest import public_jwk
from tests.support.tokens import KID, claims, forge
from tests.support.tokens import b64url as b64


def b64json(value: Any) -> str:
    return b64(json.dumps(value).encode())


def hmac_token(secret: bytes) -> str:
    """HS256 signed with ``secret`` (the algorithm-confusion attack)."""
    signing_input = f"{b64json({'alg': 'HS256', 'typ': 'JWT', 'kid': KID})}"
    signing_input += f".{b64json(claims())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def public_bytes(ctx: SimpleNamespace, encoding: str, fmt: str) -> bytes:
    return ctx.rsa_key.public_key().public_bytes(
        getattr(serialization.Encoding, encoding),
        getattr(serialization.PublicFormat, fmt),
    )


def flip_signature_byte(token: str) -> str:
    head, payload, signature = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=="))
    raw[10] ^= 0x01
    return f"{head}.{payload}.{b64(bytes(raw))}"


def tamper_payload(token: str) -> str:
    head, _, signature = token.split(".")
    return f"{head}.{b64json(claims(sub='1', roles=['staff']))}.{signature}"


def as_header(value: str) -> str:
    """Return ``value`` as an Authorization header (a bare token gets ``Bearer``)."""
    return value if value.lower().startswith("bearer") else f"Bearer {value}"


# name -> function(ctx) returning the token, or the whole Authorization header.
HOSTILE_HEADERS = {
    "empty bearer": lambda ctx: "Bearer ",
    "empty token after scheme and spaces": lambda ctx: "Bearer    ",
    "garbage": lambda ctx: "Bearer garbage",
    "garbage with dots": lambda ctx: "Bearer a.b.c",
    "not base64": lambda ctx: "Bearer ###.$$$.%%%",
    "two tokens": lambda ctx: f"Bearer {ctx.token()} {ctx.token()}",
    "two headers joined": lambda ctx: f"Bearer {ctx.token()}, Bearer {ctx.token()}",
    "two headers joined by gunicorn": lambda ctx: (
        f"Bearer {ctx.token()},Bearer {ctx.token()}"
    ),
    "non-ascii": lambda ctx: "Bearer \u00e9t\u00e9.\u2603.x",
    "alg none unsigned": lambda ctx: forge({"alg": "none", "kid": KID}, claims(), b""),
    "alg none with signature": lambda ctx: forge(
        {"alg": "none", "kid": KID}, claims(), b"sig"
    ),
    "alg None capitalised": lambda ctx: forge(
        {"alg": "None", "kid": KID}, claims(), b""
    ),
    "HS256 with PEM public key": lambda ctx: hmac_token(
        public_bytes(ctx, "PEM", "SubjectPublicKeyInfo")
    ),
    "HS256 with DER public key": lambda ctx: hmac_token(
        public_bytes(ctx, "DER", "SubjectPublicKeyInfo")
    ),
    "HS256 with PKCS1 public key": lambda ctx: hmac_token(
        public_bytes(ctx, "PEM", "PKCS1")
    ),
    "RS512 attacker key": lambda ctx: ctx.token(
        ctx.attacker_rsa_key, algorithm="RS512"
    ),
    "PS256 attacker key": lambda ctx: ctx.token(
        ctx.attacker_rsa_key, algorithm="PS256"
    ),
    "ES256 attacker key": lambda ctx: ctx.token(ctx.attacker_ec_key, algorithm="ES256"),
    "EdDSA attacker key": lambda ctx: ctx.token(ctx.attacker_ed_key, algorithm="EdDSA"),
    "PS256 real key": lambda ctx: ctx.token(algorithm="PS256"),
    "RS512 real key": lambda ctx: ctx.token(algorithm="RS512"),
    "lowercase rs256": lambda ctx: forge(
        {"alg": "rs256", "kid": KID},
        claims(),
        base64.urlsafe_b64decode(ctx.token().split(".")[2] + "=="),
    ),
    "other key under known kid": lambda ctx: ctx.token(ctx.attacker_rsa_key),
    "flipped signature byte": lambda ctx: flip_signature_byte(ctx.token()),
    "embedded jwk header": lambda ctx: ctx.token(
        ctx.attacker_rsa_key,
        headers={"jwk": public_jwk(ctx.attacker_rsa_key, KID)},
    ),
    "crit header": lambda ctx: ctx.token(headers={"crit": ["exp"], "exp": 1}),
    "crit b64 header": lambda ctx: ctx.token(headers={"crit": ["b64"], "b64": True}),
    "kid path traversal": lambda ctx: ctx.token(headers={"kid": "../../dev/null"}),
    "kid 10 KB": lambda ctx: ctx.token(headers={"kid": "k" * 10_240}),
    "kid number": lambda ctx: forge({"alg": "RS256", "kid": 1}, claims(), b"x" * 256),
    "kid missing": lambda ctx: forge({"alg": "RS256"}, claims(), b"x" * 256),
    "unknown kid": lambda ctx: ctx.token(headers={"kid": "key-404"}),
    "expired": lambda ctx: ctx.token(exp=int(time.time()) - 60),
    "not yet valid": lambda ctx: ctx.token(nbf=int(time.time()) + 60),
    "wrong iss": lambda ctx: ctx.token(iss="https://evil.test"),
    "iss missing": lambda ctx: ctx.token(iss=None),
    "aud without this service": lambda ctx: ctx.token(aud=["customers"]),
    "aud missing": lambda ctx: ctx.token(aud=None),
    "exp missing": lambda ctx: ctx.token(exp=None),
    "sub missing": lambda ctx: ctx.token(sub=None),
    "sub not a string": lambda ctx: ctx.token(sub=42),
    "refresh token as access": lambda ctx: ctx.token(token_type="refresh"),
    "typ missing (RFC 9068)": lambda ctx: ctx.token(headers={"typ": None}),
    "typ JWT": lambda ctx: ctx.token(headers={"typ": "JWT"}),
    "typ of an ID token": lambda ctx: ctx.token(headers={"typ": "id+jwt"}),
    "typ with a space": lambda ctx: ctx.token(headers={"typ": "at+jwt "}),
    "typ at+jwt as a list": lambda ctx: ctx.token(headers={"typ": ["at+jwt"]}),
    "typ application/jwt": lambda ctx: ctx.token(headers={"typ": "application/jwt"}),
    "refresh token as simplejwt signs it": lambda ctx: ctx.token(
        token_type="refresh", headers={"typ": "JWT"}
    ),
    "tampered payload": lambda ctx: tamper_payload(ctx.token()),
    "truncated": lambda ctx: ctx.token()[:-20],
    "truncated to two parts": lambda ctx: ctx.token().rsplit(".", 1)[0],
    "16 KB token": lambda ctx: ctx.token(padding="p" * 16_384),
    "jku header from attacker": lambda ctx: ctx.token(
        ctx.attacker_rsa_key,
        headers={"jku": f"{ctx.server.url}/evil-jwks.json", "kid": "evil"},
    ),
    "x5u header from attacker": lambda ctx: ctx.token(
        ctx.attacker_rsa_key,
        headers={"x5u": f"{ctx.server.url}/evil.pem", "kid": "evil"},
    ),
}


@pytest.fixture
def ctx(
    jwks_server, make_token, rsa_key, attacker_rsa_key, attacker_ec_key, attacker_ed_key
) -> SimpleNamespace:
    return SimpleNamespace(
        server=jwks_server,
        token=make_token,
        rsa_key=rsa_key,
        attacker_rsa_key=attacker_rsa_key,
        attacker_ec_key=attacker_ec_key,
        attacker_ed_key=attacker_ed_key,
    )


def assert_invalid_token(response) -> None:
    assert response.status_code == 401, response.content
    assert set(response.json()) == {"detail"}
    challenge = response["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="api", error="invalid_token"')
    assert 'error_description="' in challenge


def test_valid_token_authenticates(api, ctx):
    response = api.get("/whoami/", HTTP_AUTHORIZATION=f"Bearer {ctx.token()}")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == "42"
    assert body["username"] == "alice"
    assert body["roles"] == ["clerk"]
    assert body["is_staff"] is False
    assert len(body["jti"]) == 32
    assert body["log_username"] == "alice"


@pytest.mark.parametrize(
    "typ", ["at+jwt", "AT+JWT", "application/at+jwt", "Application/At+JWT"]
)
def test_access_token_typ_is_case_insensitive(api, ctx, typ):
    token = ctx.token(headers={"typ": typ})
    assert api.get("/whoami/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200


def test_token_type_claim_is_optional_with_the_typ_header(api, ctx):
    """A client-credentials or exchanged token carries no simplejwt claim."""
    token = ctx.token(token_type=None, username=None, roles=None, sub="partner")
    response = api.get("/whoami/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    assert response.json()["id"] == "partner"


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "BeArEr"])
def test_scheme_is_case_insensitive(api, ctx, scheme):
    response = api.get("/whoami/", HTTP_AUTHORIZATION=f"{scheme} {ctx.token()}")
    assert response.status_code == 200


def test_staff_role_makes_staff(api, ctx):
    token = ctx.token(roles=["staff"])
    response = api.get("/whoami/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.json()["is_staff"] is True


def test_token_within_leeway_is_accepted(api, ctx):
    token = ctx.token(exp=int(time.time()) - 2, nbf=int(time.time()) + 2)
    response = api.get("/whoami/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200


def test_no_credentials_is_401_without_error(api, ctx):
    response = api.get("/whoami/")
    assert response.status_code == 401
    assert set(response.json()) == {"detail"}
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_other_scheme_is_not_credentials(api, ctx):
    response = api.get("/whoami/", HTTP_AUTHORIZATION="Basic YWxpY2U6cHc=")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_token_in_query_string_or_cookie_is_ignored(api, ctx, caplog):
    token = ctx.token()
    api.cookies["access_token"] = token
    api.cookies["Authorization"] = f"Bearer {token}"
    with caplog.at_level(logging.DEBUG):
        response = api.get(f"/whoami/?access_token={token}&token={token}")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert token not in caplog.text


@pytest.mark.parametrize("name", list(HOSTILE_HEADERS))
def test_hostile_token_is_refused(api, ctx, name, caplog):
    header = as_header(HOSTILE_HEADERS[name](ctx))
    with caplog.at_level(logging.DEBUG):
        response = api.get("/whoami/", HTTP_AUTHORIZATION=header)
    assert_invalid_token(response)
    token = header.split(" ", 1)[1].strip()
    if len(token) > 20:
        assert token not in caplog.text
        assert token[-20:] not in caplog.text


def test_jku_and_x5u_are_never_fetched(api, ctx):
    ctx.server.serve_jwks(
        public_jwk(ctx.attacker_rsa_key, "evil"), path="/evil-jwks.json"
    )
    for name in ("jku header from attacker", "x5u header from attacker"):
        assert_invalid_token(
            api.get(
                "/whoami/", HTTP_AUTHORIZATION=as_header(HOSTILE_HEADERS[name](ctx))
            )
        )
    assert ctx.server.hits["/evil-jwks.json"] == 0
    assert ctx.server.hits["/evil.pem"] == 0


def test_jku_header_on_a_good_token_is_ignored(api, ctx):
    token = ctx.token(headers={"jku": f"{ctx.server.url}/evil-jwks.json"})
    response = api.get("/whoami/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    assert ctx.server.hits["/evil-jwks.json"] == 0


def test_oct_key_in_jwks_is_never_used(api, ctx):
    secret = b"s" * 32
    ctx.server.serve_jwks(
        {"kty": "oct", "k": b64(secret), "kid": "hmac", "alg": "HS256", "use": "sig"},
        public_jwk(ctx.rsa_key, KID),
    )
    signing_input = f"{b64json({'alg': 'HS256', 'kid': 'hmac'})}.{b64json(claims())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    header = f"Bearer {signing_input}.{b64(signature)}"
    assert_invalid_token(api.get("/whoami/", HTTP_AUTHORIZATION=header))


def test_es256_key_from_jwks_is_accepted(api, jwks_server, make_token, attacker_ec_key):
    jwk = ECAlgorithm.to_jwk(attacker_ec_key.public_key(), as_dict=True)
    jwks_server.serve_jwks({**jwk, "kid": "ec-1", "alg": "ES256", "use": "sig"})
    token = make_token(attacker_ec_key, algorithm="ES256", headers={"kid": "ec-1"})
    response = api.get("/whoami/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200


def test_rs256_header_with_ec_key_kid_is_refused(api, jwks_server, make_token, rsa_key):
    """A token claiming RS256 under an ES256 key's kid cannot switch algorithms."""
    from cryptography.hazmat.primitives.asymmetric import ec

    ec_public = ec.generate_private_key(ec.SECP256R1()).public_key()
    jwk = ECAlgorithm.to_jwk(ec_public, as_dict=True)
    jwks_server.serve_jwks({**jwk, "kid": "ec-1", "alg": "ES256", "use": "sig"})
    token = make_token(headers={"kid": "ec-1"})
    assert_invalid_token(api.get("/whoami/", HTTP_AUTHORIZATION=f"Bearer {token}"))


@pytest.mark.django_db
def test_zero_queries_per_authenticated_request(api, ctx, django_assert_num_queries):
    header = f"Bearer {ctx.token()}"
    api.get("/whoami/", HTTP_AUTHORIZATION=header)  # keys fetched and cached
    with django_assert_num_queries(0):
        for _ in range(5):
            assert api.get("/whoami/", HTTP_AUTHORIZATION=header).status_code == 200


def test_jwks_fetched_once_across_many_requests(api, ctx):
    for index in range(25):
        token = ctx.token(sub=str(index))
        response = api.get("/whoami/", HTTP_AUTHORIZATION=f"Bearer {token}")
        assert response.json()["id"] == str(index)
    assert ctx.server.hits["/jwks.json"] == 1


def test_audience_setting_change_takes_effect(api, ctx, settings):
    settings.SHARED_AUTH = {**settings.SHARED_AUTH, "AUDIENCE": "billing"}
    assert_invalid_token(
        api.get("/whoami/", HTTP_AUTHORIZATION=f"Bearer {ctx.token()}")
    )
    token = ctx.token(aud="billing")
    assert api.get("/whoami/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200


def test_username_var_set_on_success(rf, ctx):
    request = rf.get("/", HTTP_AUTHORIZATION=f"Bearer {ctx.token()}")
    token = username_var.set("-")
    try:
        user, verified = JWTAuthentication().authenticate(request)
        assert username_var.get() == "alice"
    finally:
        username_var.reset(token)
    assert user.id == "42"
    assert verified.claims["sub"] == "42"
    assert verified["username"] == "alice"
    assert verified.raw not in repr(verified)


class InMemoryKeyAuthentication(JWTAuthentication):
    """What the gateway does: verify with keys it holds, never fetching JWKS."""

    def __init__(self, keys: dict[str, Any]) -> None:
        self.keys = keys

    def get_public_key(self, kid: str) -> Any:
        from rest_framework.exceptions import AuthenticationFailed

        try:
            return self.keys[kid]
        except KeyError:
            raise AuthenticationFailed("Token signing key is unknown.") from None

    def get_audience(self) -> list[str]:
        return ["orders", "customers"]


def test_subclass_with_in_memory_keys(rf, make_token, rsa_key, server):
    auth = InMemoryKeyAuthentication({KID: rsa_key.public_key()})
    reset = username_var.set("-")
    request = rf.get("/", HTTP_AUTHORIZATION=f"Bearer {make_token(aud=['customers'])}")
    user, verified = auth.authenticate(request)
    assert user.username == "alice"
    assert verified.claims["aud"] == ["customers"]
    # An algorithm that does not fit the raw key is a 401, not a crash.
    from rest_framework.exceptions import AuthenticationFailed

    es_token = forge({"alg": "ES256", "kid": KID}, claims(), b"x" * 64)
    with pytest.raises(AuthenticationFailed):
        auth.authenticate(rf.get("/", HTTP_AUTHORIZATION=f"Bearer {es_token}"))
    username_var.reset(reset)
    assert server.hits == {}


# -- tokens verified once per process ----------------------------------------------
@pytest.fixture
def decodes(monkeypatch) -> list[str]:
    """Record each full verification (PyJWT's decode) of a token."""
    made: list[str] = []
    decode = authentication.jwt.decode

    def recording(token, *args, **kwargs):
        made.append(token)
        return decode(token, *args, **kwargs)

    monkeypatch.setattr(authentication.jwt, "decode", recording)
    return made


def authenticate(rf, token: str, auth: JWTAuthentication | None = None):
    request = rf.get("/", HTTP_AUTHORIZATION=f"Bearer {token}")
    reset = username_var.set("-")
    try:
        return (auth or JWTAuthentication()).authenticate(request)
    finally:
        username_var.reset(reset)


def test_a_token_is_verified_once_per_process(rf, ctx, decodes):
    token = ctx.token()
    first, second = authenticate(rf, token), authenticate(rf, token)
    assert decodes == [token]
    assert second[1].claims == first[1].claims
    assert second[0].username == "alice"


def test_a_remembered_token_still_expires(rf, ctx, decodes, monkeypatch):
    token = ctx.token()
    _, verified = authenticate(rf, token)
    leeway = 5  # SHARED_AUTH["LEEWAY"]
    monkeypatch.setattr(authentication, "_now", lambda: verified["exp"] + leeway)
    with pytest.raises(AuthenticationFailed) as refused:
        authenticate(rf, token)
    assert refused.value.get_codes() == "token_expired"
    assert decodes == [token]


def test_a_remembered_token_whose_key_left_the_jwks_is_refused(
    rf, ctx, attacker_rsa_key
):
    token = ctx.token()
    authenticate(rf, token)
    ctx.server.serve_jwks(public_jwk(attacker_rsa_key, "key-2"))
    cache.clear()  # as when the key set's TTL is over: fetched again
    reset_jwks_clients()
    with pytest.raises(AuthenticationFailed) as refused:
        authenticate(rf, token)
    assert refused.value.get_codes() == "token_not_valid"


def test_a_tampered_copy_of_a_remembered_token_is_verified_afresh(rf, ctx):
    token = ctx.token()
    authenticate(rf, token)
    for forged in (tamper_payload(token), flip_signature_byte(token)):
        with pytest.raises(AuthenticationFailed):
            authenticate(rf, forged)


def test_a_token_remembered_for_one_audience_is_checked_for_another(
    rf, make_token, rsa_key, decodes
):
    class BillingAuthentication(InMemoryKeyAuthentication):
        def get_audience(self) -> str:
            return "billing"

    keys = {KID: rsa_key.public_key()}
    token = make_token(aud=["customers"])
    authenticate(rf, token, InMemoryKeyAuthentication(keys))
    with pytest.raises(AuthenticationFailed) as refused:
        authenticate(rf, token, BillingAuthentication(keys))
    assert refused.value.get_codes() == "token_not_valid"
    assert decodes == [token, token]
