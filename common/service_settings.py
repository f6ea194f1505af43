"""Settings both services share, on top of ``common.settings``.

Each service's settings module stays its entry point: it star-imports this one
and adds its name, database, app, ``SHARED_AUTH``, exception handler and
schema title.
"""

import os
from datetime import timedelta

from common.settings import *  # noqa: F403
from common.settings import GATEWAY_INTERNAL_URL, INSTALLED_APPS, REST_FRAMEWORK

INSTALLED_APPS = [
    *INSTALLED_APPS,
    "drf_spectacular",
    "drf_spectacular_sidecar",
]

# shared_auth verifies every request's bearer token itself (see shared_auth/conf.py
# for every key and its default; ISSUER and JWKS_URL default to JWT_ISSUER and
# JWT_JWKS_URL). Each service's SHARED_AUTH starts from this one: tokens are
# exchanged at the gateway's internal listener, like the JWKS and the revocation
# feed are fetched there (shared_auth's own default is <ISSUER>/auth/oauth/token/).
SHARED_AUTH = {"TOKEN_URL": f"{GATEWAY_INTERNAL_URL}/auth/oauth/token/"}
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_AUTHENTICATION_CLASSES": ["shared_auth.authentication.JWTAuthentication"],
    "DEFAULT_SCHEMA_CLASS": "common.schema.ErrorsAutoSchema",
    "DEFAULT_PAGINATION_CLASS": "common.pagination.CappedPageNumberPagination",
}

SPECTACULAR_SETTINGS = {
    "VERSION": "1.0.0",
    # 3.1: each operation lists the bearer token scopes it needs.
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI's files from drf-spectacular-sidecar, served here (no CDN).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}


def env_seconds(name: str, default: int) -> timedelta:
    """Return the environment variable ``name`` (whole seconds) as a timedelta."""
    return timedelta(seconds=int(os.environ.get(name, str(default))))
