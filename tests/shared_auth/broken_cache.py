"""A cache backend that is always down (a Redis outage, for the tests)."""

from typing import Any

from django.core.cache.backends.base import BaseCache


class BrokenCache(BaseCache):
    """Every operation raises ``ConnectionError``."""

    def __init__(self, location: str, params: dict[str, Any]) -> None:
        super().__init__(params)

    def _down(self, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("cache is down")

    add = get = set = delete = touch = clear = _down
