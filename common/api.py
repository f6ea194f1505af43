"""DRF building blocks both services share: pagination and the error shape.

Every error leaves a service as ``{"detail": "...", "code": "..."}``; a
validation error also names the offending field first in ``detail`` and keeps
DRF's per-field messages under ``errors``.
"""

import re
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.core.validators import RegexValidator
from django.http import Http404, QueryDict
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import (
    APIException,
    ErrorDetail,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from shared_auth.permissions import apply_scope_challenge

POSITIVE_INTEGER = re.compile(r"[1-9][0-9]{0,17}")


class CappedPageNumberPagination(PageNumberPagination):
    """Page-number pagination; ``?page_size=`` is honoured up to 100.

    ``?page=`` and ``?page_size=`` are positive integers in ASCII digits (at most
    18), else 400 (DRF would ignore a bad ``page_size`` and answer 404 for a bad
    ``page``); a page past the last one is 404. The schema says the same.
    """

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100

    def positive_integer(self, request: Any, name: str) -> int | None:
        """Return the query parameter ``name`` (None if absent); 400 if invalid."""
        value = request.query_params.get(name)
        if value is None:
            return None
        if not POSITIVE_INTEGER.fullmatch(value):
            raise ValidationError(
                {name: ["A positive integer is required."]}, code="invalid"
            )
        return int(value)

    def get_page_size(self, request: Any) -> int:
        page_size = self.positive_integer(request, self.page_size_query_param)
        if page_size is None:
            return self.page_size
        return min(page_size, self.max_page_size)

    def get_page_number(self, request: Any, paginator: Any) -> int:
        return self.positive_integer(request, self.page_query_param) or 1

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"].update(minimum=1, maximum=10**18 - 1)
            if parameter["name"] == self.page_size_query_param:
                parameter["description"] = (
                    f"Number of results per page (default {self.page_size}); "
                    f"larger values give {self.max_page_size}."
                )
        return parameters


def _first_error(errors: Any, path: tuple[str, ...] = ()) -> tuple[str, ErrorDetail]:
    """Return the dotted field path and message of the first error in ``errors``."""
    if isinstance(errors, Mapping):
        key, value = next(iter(errors.items()))
        return _first_error(value, (*path, str(key)))
    if isinstance(errors, Sequence) and not isinstance(errors, str) and errors:
        return _first_error(errors[0], path)
    return ".".join(path), errors


def json_exception_handler(exc: Exception, context: dict) -> Response | None:
    """Return DRF's error response, with ``detail`` and ``code`` always present.

    A ``ValidationError`` becomes 400 ``{"detail": "<field>: <message>",
    "code": ..., "errors": {<field>: [...]}}``. A 404 never names the model.
    A 403 for a missing scope is RFC 6750's ``insufficient_scope`` answer.
    """
    if isinstance(exc, Http404):
        exc = NotFound()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, ValidationError):
        field, message = _first_error(exc.detail)
        if field in ("", "non_field_errors"):
            detail = str(message)
        else:
            detail = f"{field}: {message}"
        response.data = {
            "detail": detail,
            "code": getattr(message, "code", "invalid"),
            "errors": exc.detail,
        }
    elif isinstance(response.data, dict) and "detail" in response.data:
        detail = response.data["detail"]
        response.data.setdefault("code", getattr(detail, "code", "error"))
    if isinstance(exc, PermissionDenied):
        apply_scope_challenge(response, context.get("request"))
    return response


MONEY_MAX = Decimal("1000000000.00")
# An amount from 0.01 to 1000000000.00 with at most 2 decimals, as a string of
# ASCII digits with no sign, exponent, separator, space or leading zero: the
# schema's pattern (ECMA 262). MoneyField accepts exactly these strings.
MONEY_PATTERN = (
    r"^(?:[1-9][0-9]{0,8}(?:\.[0-9]{1,2})?"
    r"|1000000000(?:\.00?)?"
    r"|0\.(?:0[1-9]|[1-9][0-9]?))$"
)
# A plain decimal in ASCII digits, no leading zero: MoneyField lets only these
# through to DecimalField, which then refuses what is out of range or has more
# than 2 decimals, with its own messages. Together: MONEY_PATTERN.
_DECIMAL = re.compile(r"-?[1-9][0-9]{0,39}(?:\.[0-9]{1,40})?|-?0(?:\.[0-9]{1,40})?")


def _from_form(field: serializers.Field) -> bool:
    """Return True if ``field``'s data came from a form or a query string.

    Every value of those is a string; in JSON a number must be a number.
    """
    root = field.root
    return getattr(root, "text_input", False) or isinstance(
        getattr(root, "initial_data", None), QueryDict
    )


class QuerySerializer(serializers.Serializer):
    """A serializer of query parameters: ``QuerySerializer(request.query_params)``.

    An empty value (``?name=``) is a value, refused unless the field allows it;
    DRF would take it as absent, where the schema says it is invalid.
    """

    text_input = True

    def __init__(self, query_params: QueryDict | None = None, **kwargs: Any) -> None:
        if query_params is not None:
            kwargs["data"] = query_params.dict()
        super().__init__(**kwargs)


@extend_schema_field(
    {
        "type": "string",
        "format": "decimal",
        "pattern": MONEY_PATTERN,
        "description": "An amount as a string: more than 0 (at least 0.01), "
        "at most 1000000000.00, at most 2 decimals, ASCII digits only.",
        "example": "12.50",
    }
)
class MoneyField(serializers.DecimalField):
    """An amount: a string matching ``MONEY_PATTERN`` (JSON numbers refused)."""

    default_error_messages = {
        "invalid": "A valid number is required: a string of ASCII digits with "
        'up to 2 decimals, no leading zero, e.g. "12.50".'
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            max_digits=12,
            decimal_places=2,
            min_value=Decimal("0.01"),
            max_value=MONEY_MAX,
            **kwargs,
        )

    def to_internal_value(self, data: Any) -> Decimal:
        if not isinstance(data, str) or not _DECIMAL.fullmatch(data):
            self.fail("invalid")
        return super().to_internal_value(data)


def money_field(**kwargs: Any) -> MoneyField:
    """Return a serializer field for an amount: positive, 2 dp, at most 10**9."""
    return MoneyField(**kwargs)


class StrictCharField(serializers.CharField):
    """A ``CharField`` taking strings only (DRF turns ``0`` into ``"0"``).

    Kept as sent (no whitespace trimming), so what the schema's pattern and
    length accept is what is stored.
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


# Text that PostgreSQL can store (no NUL); the schema says so too.
NO_NUL = RegexValidator(r"\A[^\x00]*\Z", "Null characters are not allowed.")


class StrictIntegerField(serializers.IntegerField):
    """An ``IntegerField`` taking a JSON integer, or ASCII digits from a form.

    DRF's accepts ``true``, ``"5.0"``, ``"1_000"``, ``" 5 "`` and non-ASCII
    digits. A JSON number with a zero fraction (``5.0``) is an integer in the
    OpenAPI 3.1 schema (JSON Schema 2020-12), so it is taken as one.
    """

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool):
            self.fail("invalid")
        if isinstance(data, float) and data.is_integer() and abs(data) < 2**63:
            data = int(data)
        if isinstance(data, str) and _from_form(self):
            if not re.fullmatch(r"-?[0-9]{1,19}", data):
                self.fail("invalid")
            data = int(data)
        if not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


def api_error(status_code: int, detail: str, code: str) -> APIException:
    """Return a DRF exception answering ``status_code`` with ``detail`` and ``code``."""
    exc = APIException(detail=detail, code=code)
    exc.status_code = status_code
    return exc


ExceptionHandler = Callable[[Exception, dict], Response | None]


def domain_exception_handler(
    status_and_code: Mapping[type[Exception], tuple[int, str]],
) -> ExceptionHandler:
    """Return a DRF exception handler mapping domain errors to HTTP answers.

    An instance of a key of ``status_and_code`` answers its ``(status, code)``
    with the error's message as ``detail``; anything else goes to
    ``json_exception_handler``.
    """

    def handler(exc: Exception, context: dict) -> Response | None:
        for error_class, (status_code, code) in status_and_code.items():
            if isinstance(exc, error_class):
                exc = api_error(status_code, str(exc), code)
                break
        return json_exception_handler(exc, context)

    return handler
