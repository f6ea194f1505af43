"""The JSON request parser of the three projects: bounded, strict, never a 500.

DRF's ``JSONParser`` hands the body to ``json.load`` as is: a body nested a
thousand levels deep raises ``RecursionError`` (a 500, and the debug page under
DEBUG), and a service reads a body of any size (``DATA_UPLOAD_MAX_MEMORY_SIZE``
only guards ``request.body``, which DRF does not use). ``BoundedJSONParser``
refuses, as 400 ``parse_error`` (413 ``request_too_large`` for the size):

- a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` bytes, before decoding it;
- nesting deeper than ``max_depth`` arrays and objects;
- more than ``max_keys`` object keys in the whole body, and duplicate keys
  (two parsers could otherwise read different values from one body);
- a string (value or key) longer than ``max_string_length`` characters, or
  holding a lone surrogate (``"\\ud800"``: no database can store it);
- ``NaN``, ``Infinity`` and ``-Infinity`` (not JSON), and invalid UTF-8.

docs/security.md lists the limits.
"""

import json
from collections.abc import Iterator
from typing import IO, Any

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser, get_encoding


class RequestTooLarge(APIException):
    """413: the request body is larger than ``DATA_UPLOAD_MAX_MEMORY_SIZE``."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large."
    default_code = "request_too_large"


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


class _Limits:
    """Counts keys while ``json.loads`` builds objects (its ``object_pairs_hook``)."""

    def __init__(self, max_keys: int) -> None:
        self.keys_left = max_keys

    def build_object(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        self.keys_left -= len(pairs)
        if self.keys_left < 0:
            raise ParseError("JSON parse error - too many object keys.")
        result = dict(pairs)
        if len(result) != len(pairs):
            raise ParseError("JSON parse error - duplicate object key.")
        return result


def _children(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        yield from value.keys()
        yield from value.values()
    elif isinstance(value, list):
        yield from value


class BoundedJSONParser(JSONParser):
    """DRF's ``JSONParser`` with bounds on size, depth, keys and strings."""

    max_depth = 32
    max_keys = 1000
    max_string_length = 10_000

    def parse(
        self,
        stream: IO[bytes],
        media_type: str | None = None,
        parser_context: dict[str, Any] | None = None,
    ) -> Any:
        """Return the parsed body; raise ``ParseError`` (400) or 413 as above."""
        encoding = get_encoding(parser_context or {})
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(raw) > limit:
            raise RequestTooLarge()
        limits = _Limits(self.max_keys)
        try:
            data = json.loads(
                raw.decode(encoding),
                object_pairs_hook=limits.build_object,
                parse_constant=_refuse_constant,
            )
        except RecursionError as exc:
            raise ParseError("JSON parse error - nested too deeply.") from exc
        except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError too
            raise ParseError(f"JSON parse error - {exc}") from exc
        self.check(data)
        return data

    def check(self, data: Any) -> None:
        """Raise ``ParseError`` if ``data`` is too deep or holds a bad string.

        Iterative: the value came from ``json.loads``, which stops at the
        interpreter's recursion limit, but no recursion is needed to walk it.
        """
        stack = [(data, 0)]
        while stack:
            value, depth = stack.pop()
            if isinstance(value, str):
                self.check_string(value)
            elif isinstance(value, dict | list):
                if depth >= self.max_depth:
                    raise ParseError("JSON parse error - nested too deeply.")
                stack.extend((child, depth + 1) for child in _children(value))

    def check_string(self, value: str) -> None:
        """Raise ``ParseError`` if ``value`` is too long or not valid Unicode."""
        if len(value) > self.max_string_length:
            raise ParseError("JSON parse error - string too long.")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ParseError("JSON parse error - invalid unicode string.") from exc
