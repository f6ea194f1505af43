"""The gateway under its production environment, behind a TLS-terminating proxy.

Plain http from outside is redirected to https, https answers carry HSTS and
secure cookies, what comes over in-cluster http (probes, the JWKS) is answered as
it is, and X-Forwarded-Proto is believed from the trusted proxy only. The proxy
is played by connections from 127.0.0.2; anyone else connects from 127.0.0.1.
"""

import http.client
from urllib.parse import urlsplit

import pytest
import requests

from devstack.stack import free_port
from tests.deploy.processes import manage, production_env, serve

PUBLIC_HOST = "api.example.com"
PROXY = "127.0.0.2"
ANYONE = "127.0.0.1"


@pytest.fixture(scope="module")
def gateway_env(by_kind, config, tmp_path_factory) -> dict[str, str]:
    """Return the gateway pod's environment, 127.0.0.2 as the trusted proxy."""
    env = production_env(by_kind, config, "gateway", tmp_path_factory.mktemp("gw"))
    env["GATEWAY_TRUSTED_PROXIES"] = PROXY
    return env


@pytest.fixture(scope="module")
def internal_port() -> int:
    """The local port of the gateway's internal listener (the pod's 8090)."""
    return free_port()


@pytest.fixture(scope="module")
def gateway(gateway_env, internal_port):
    """Return the address of a gateway running with its pod's environment."""
    env = gateway_env
    for command in ("migrate", "collectstatic"):  # the Job's, the image build's
        manage(command, env)
    with serve("gateway", env, internal_port=internal_port) as base:
        yield urlsplit(base)


@pytest.fixture
def internal(gateway, internal_port):
    """Return the address of that gateway's internal listener."""
    return urlsplit(f"http://127.0.0.1:{internal_port}")


def get(
    gateway, path: str, source: str = ANYONE, **headers: str
) -> http.client.HTTPResponse:
    """GET ``path`` from ``source``; ``headers`` names use ``_`` for ``-``."""
    connection = http.client.HTTPConnection(
        gateway.hostname, gateway.port, timeout=10, source_address=(source, 0)
    )
    connection.request(
        "GET", path, headers={k.replace("_", "-"): v for k, v in headers.items()}
    )
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def test_plain_http_from_outside_is_redirected_to_https(gateway):
    response = get(gateway, "/api-auth/login/", Host=PUBLIC_HOST)
    assert response.status == 301
    assert response.headers["Location"] == f"https://{PUBLIC_HOST}/api-auth/login/"


def test_https_at_the_proxy_gets_hsts_and_secure_cookies(gateway):
    response = get(
        gateway,
        "/api-auth/login/",
        source=PROXY,
        Host=PUBLIC_HOST,
        X_Forwarded_Proto="https",
    )
    assert response.status == 200
    assert response.headers["Strict-Transport-Security"] == (
        "max-age=31536000; includeSubDomains; preload"
    )
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("csrftoken=")
    assert "Secure" in cookie


def test_a_forged_forwarded_proto_is_not_believed(gateway):
    response = get(
        gateway, "/api-auth/login/", Host=PUBLIC_HOST, X_Forwarded_Proto="https"
    )
    assert response.status == 301


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/.well-known/jwks.json"])
def test_probes_and_the_jwks_are_served_over_in_cluster_http(gateway, path):
    # The kubelet and the services use the Service name as Host (see the probes).
    response = get(gateway, path, Host="gateway")
    assert response.status != 301
    assert "Location" not in response.headers
    if path != "/readyz":  # no upstream runs here: readiness answers 503
        assert response.status == 200


@pytest.mark.parametrize("listener", ["gateway", "internal"])
def test_the_revocation_feed_is_served_over_in_cluster_http(
    request, listener, gateway_env
):
    """The services poll it at REVOCATION_FEED_URL (http://gateway:8090/..., the
    internal listener) and do not follow redirects: a 301 to https would leave
    them without revocation."""
    address = request.getfixturevalue(listener)
    token = gateway_env["REVOCATION_FEED_TOKEN"]
    path = "/auth/revocations/?since=0"
    response = get(address, path, Host="gateway", Authorization=f"Bearer {token}")
    assert response.status == 200
    refused = get(address, path, Host="gateway", Authorization="Bearer wrong")
    assert refused.status == 401


def test_the_internal_listener_serves_the_services_over_in_cluster_http(internal):
    """What the services call at GATEWAY_INTERNAL_URL (http://gateway:8090): the
    JWKS and the token endpoint, as they are, never redirected."""
    host = "gateway:8090"
    assert get(internal, "/.well-known/jwks.json", Host=host).status == 200
    response = requests.post(
        f"{internal.geturl()}/auth/oauth/token/",
        data={"grant_type": "client_credentials"},
        auth=("nobody", "wrong"),
        headers={"Host": host},
        timeout=10,
        allow_redirects=False,
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
