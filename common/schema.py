"""drf-spectacular pieces both services share: bearer auth and honest errors.

``SharedAuthJWTScheme`` declares the ``bearerAuth`` security scheme (imported by
each service's ``AppConfig.ready()``). ``ErrorsAutoSchema`` (the services'
``DEFAULT_SCHEMA_CLASS``) adds to every operation the error answers it can
really give, each with the ``Error`` body ``{"detail", "code"}``; the
schemathesis suite (tests/e2e/test_fuzz.py) holds the server to them. Each
operation's security requirement lists the scopes its ``HasScope`` checks
require (``{"bearerAuth": ["orders:read"]}``; OpenAPI 3.1 allows scopes on
any scheme).
"""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from rest_framework import serializers

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


class ErrorSerializer(serializers.Serializer):
    """Every error answer (``common.api.json_exception_handler``)."""

    detail = serializers.CharField(help_text="What went wrong, for a human.")
    code = serializers.CharField(help_text="What went wrong, for a program.")
    errors = serializers.DictField(
        required=False,
        help_text="On a 400 for invalid fields: each field's messages.",
    )

    class Meta:
        ref_name = "Error"


ERROR_DESCRIPTIONS = {
    400: "Invalid input: a field, a query parameter, a header, a body that is "
    "not JSON (`parse_error`: also nesting over 32 levels, over 1000 keys, a "
    "string over 10000 characters, duplicate keys), or a path the gateway "
    "refuses (`invalid_path`: control characters, dot segments).",
    401: "No, or no valid, bearer token.",
    403: "The token may not do this: the object is someone else's, or the "
    "token lacks the scope (`insufficient_scope`).",
    404: "No such object, or a page past the last one.",
    409: "Conflicts with the current state.",
    413: "Request body over the size limit.",
    415: "Content type not supported.",
    422: "Idempotency-Key reused with another request.",
    502: "The customers service refused the request.",
    503: "A service this one needs (the customers service, the token "
    "signing keys) is unavailable; try again later.",
}


class ErrorsAutoSchema(AutoSchema):
    """drf-spectacular's ``AutoSchema``, listing each operation's error answers.

    Every operation: 401, 403, 503 (the signing keys unreachable). With a
    request body: 400, 413, 415. With query or header parameters: 400. With
    path parameters: 404, and 400 (through the gateway, whose proxy refuses
    unsafe paths). Paginated (a page past the last): 404. Others an action
    gives are the view's ``error_statuses[action]`` (e.g. 409).
    """

    def get_error_statuses(self, operation: dict[str, Any]) -> set[int]:
        """Return the error status codes of ``operation`` (built so far)."""
        statuses = {401, 403, 503}
        if "requestBody" in operation:
            statuses |= {400, 413, 415}
        parameters = operation.get("parameters", [])
        if any(p["in"] in ("query", "header") for p in parameters):
            statuses.add(400)
        if any(p["in"] == "path" for p in parameters):
            statuses |= {400, 404}
        if any(p["name"] == "page" for p in parameters):
            statuses.add(404)
        action = getattr(self.view, "action", None)
        statuses |= set(getattr(self.view, "error_statuses", {}).get(action, ()))
        return statuses

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        """Return the operation with its error responses added."""
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        error = self.resolve_serializer(ErrorSerializer, "response").ref
        responses = operation.setdefault("responses", {})
        for status_code in sorted(self.get_error_statuses(operation)):
            responses.setdefault(
                str(status_code),
                {
                    "description": ERROR_DESCRIPTIONS[status_code],
                    "content": {"application/json": {"schema": error}},
                },
            )
        return operation
