"""RFC 6749 section 5.2 errors of the OAuth endpoints."""


class OAuthError(Exception):
    """A refused OAuth request: ``error`` (an RFC 6749/7009/8693 code) and why.

    ``status`` is the HTTP status (400 unless said otherwise); ``basic`` asks
    for a ``WWW-Authenticate: Basic`` challenge (RFC 6749 section 5.2: when the
    client tried HTTP Basic); ``retry_after`` is for throttled requests.
    """

    def __init__(
        self,
        error: str,
        description: str,
        *,
        status: int = 400,
        basic: bool = False,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status
        self.basic = basic
        self.retry_after = retry_after


def invalid_request(description: str, *, status: int = 400) -> OAuthError:
    return OAuthError("invalid_request", description, status=status)


def invalid_client(description: str, *, basic: bool) -> OAuthError:
    return OAuthError("invalid_client", description, status=401, basic=basic)
