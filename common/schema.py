"""drf-spectacular description of shared_auth's bearer authentication.

Imported by each service's ``AppConfig.ready()`` so that ``/api/schema/``
declares the ``bearerAuth`` security scheme for every authenticated operation,
with the scopes its ``HasScope`` checks require (``security: [{"bearerAuth":
["orders:read"]}]``; OpenAPI 3.1 allows scopes on any scheme).
"""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object

from shared_auth.permissions import operation_scopes


class SharedAuthJWTScheme(OpenApiAuthenticationExtension):
    """``Authorization: Bearer <JWT>`` as verified by ``JWTAuthentication``."""

    target_class = "shared_auth.authentication.JWTAuthentication"
    name = "bearerAuth"
    match_subclasses = True

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        """Return the OpenAPI bearer security scheme (JWT access token)."""
        return build_bearer_security_scheme_object(
            header_name="HTTP_AUTHORIZATION",
            token_prefix="Bearer",
            bearer_format="JWT",
        )

    def get_security_requirement(self, auto_schema: Any) -> dict[str, list[str]]:
        """Return ``{"bearerAuth": [<scopes this operation requires>]}``."""
        return {self.name: operation_scopes(auto_schema.view, auto_schema.method)}
