"""Money: one precision for every amount the services store, compute and accept.

``MONEY`` is the model and database precision (``DecimalField(**MONEY)``),
``MONEY_QUANTUM`` the smallest amount, and ``MoneyField`` the one way an
amount enters through the API.
"""

import re
from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

MONEY = {"max_digits": 12, "decimal_places": 2}
MONEY_QUANTUM = Decimal("0.01")
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
            **MONEY,
            min_value=MONEY_QUANTUM,
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
