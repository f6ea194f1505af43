"""Where the services call the gateway: ``GATEWAY_INTERNAL_URL`` and the URLs it
gives a default to, as each service reads them from its environment.

Each case loads a service's settings in a fresh process (they are read from the
environment once, at import) and prints what ``shared_auth`` will use.
"""

import json
import os
import subprocess
import sys

import pytest

SERVICES = ["orders_service.settings", "customers_service.settings"]
PRINT = """
import json, django
from shared_auth.conf import auth_settings as s
django.setup()
print(json.dumps({key: getattr(s, key) for key in (
    "ISSUER", "JWKS_URL", "REVOCATION_URL", "TOKEN_URL")}))
"""
VARIABLES = ("JWT_ISSUER", "GATEWAY_INTERNAL_URL", "JWT_JWKS_URL")


def service_urls(settings_module: str, tmp_path, **env: str) -> dict[str, str]:
    """Return the gateway URLs ``shared_auth`` uses under ``settings_module``."""
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in VARIABLES and k != "REVOCATION_FEED_URL"
    }
    result = subprocess.run(
        [sys.executable, "-c", PRINT],
        env={
            **base,
            "DJANGO_SETTINGS_MODULE": settings_module,
            "VAR_DIR": str(tmp_path),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout)


@pytest.mark.parametrize("settings_module", SERVICES)
def test_without_an_internal_url_the_services_call_the_issuer(
    settings_module, tmp_path
):
    assert service_urls(settings_module, tmp_path) == {
        "ISSUER": "http://127.0.0.1:8000",
        "JWKS_URL": "http://127.0.0.1:8000/.well-known/jwks.json",
        "REVOCATION_URL": "http://127.0.0.1:8000/auth/revocations/",
        "TOKEN_URL": "http://127.0.0.1:8000/auth/oauth/token/",
    }
    public = "https://api.example.com"
    assert service_urls(settings_module, tmp_path, JWT_ISSUER=public) == {
        "ISSUER": public,
        "JWKS_URL": f"{public}/.well-known/jwks.json",
        "REVOCATION_URL": f"{public}/auth/revocations/",
        "TOKEN_URL": f"{public}/auth/oauth/token/",
    }


@pytest.mark.parametrize("settings_module", SERVICES)
def test_the_internal_url_is_where_the_services_call_the_gateway(
    settings_module, tmp_path
):
    urls = service_urls(
        settings_module,
        tmp_path,
        JWT_ISSUER="https://api.example.com",
        GATEWAY_INTERNAL_URL="http://gateway:8090/",
    )
    assert urls == {
        "ISSUER": "https://api.example.com",  # the tokens' iss stays public
        "JWKS_URL": "http://gateway:8090/.well-known/jwks.json",
        "REVOCATION_URL": "http://gateway:8090/auth/revocations/",
        "TOKEN_URL": "http://gateway:8090/auth/oauth/token/",
    }


def test_an_explicit_url_still_wins_over_the_internal_url(tmp_path):
    urls = service_urls(
        "orders_service.settings",
        tmp_path,
        GATEWAY_INTERNAL_URL="http://gateway:8090",
        JWT_JWKS_URL="http://keys.internal/jwks.json",
    )
    assert urls["JWKS_URL"] == "http://keys.internal/jwks.json"
    assert urls["TOKEN_URL"] == "http://gateway:8090/auth/oauth/token/"
