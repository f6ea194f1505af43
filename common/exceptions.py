"""The base of the services' domain errors (no HTTP meaning here).

Each error states its message once, as a class attribute, the way DRF's
exceptions carry ``default_detail``; the services' ``api_errors`` map the
classes to statuses and codes at the API edge.
"""

from typing import Any


class DomainError(Exception):
    """A business rule refused the operation; ``str(error)`` says why.

    Keyword arguments become attributes of the error and fill the
    ``{placeholders}`` of ``default_message``:
    ``InsufficientCredit(available=Decimal("5"))``.
    """

    default_message = "The operation was refused."

    def __init__(self, message: str | None = None, **context: Any) -> None:
        self.__dict__.update(context)
        super().__init__(message or self.default_message.format(**context))
