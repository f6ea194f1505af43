"""The services' pagination: page numbers, a capped page size, strict parameters."""

import re
from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination

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
