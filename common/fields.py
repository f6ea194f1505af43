"""Strict serializer fields both services share: what the schema says, no more.

DRF's fields coerce (``0`` to ``"0"``, ``true`` to 1, ``" 5 "`` to 5); these take
exactly the JSON types and texts the OpenAPI schema describes. Amounts are
``common.money.MoneyField``.
"""

import re
from typing import Any

from django.core.validators import RegexValidator
from django.http import QueryDict
from rest_framework import serializers


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
