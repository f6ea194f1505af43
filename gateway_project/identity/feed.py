"""The services' revocation feed: ``GET /auth/revocations/?since=<epoch>``."""

import math
from datetime import UTC, datetime, timedelta

from django.utils import timezone
from django.utils.cache import patch_cache_control
from rest_framework.exceptions import ParseError
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from gateway_project.identity.authentication import RevocationFeedAuthentication
from gateway_project.identity.selectors import (
    revocation_window,
    subject_revocations_since,
    token_revocations_since,
)

# Revocations written this long before ``since`` are sent again, so one whose
# transaction committed after an earlier answer was computed is never missed.
FEED_OVERLAP = timedelta(seconds=10)


class RevocationFeedView(APIView):
    """``GET /auth/revocations/?since=<epoch seconds>``: for the services only.

    200 ``{"time", "window", "revocations": [{"sub", "not_before"}, ...],
    "tokens": [{"jti", "exp"}, ...]}``: the subjects revoked after ``since``
    (minus ``FEED_OVERLAP``) whose revocation still matters (``not_before``
    within ``window`` seconds of ``time``), and the access tokens revoked one by
    one (RFC 7009) after ``since`` (same overlap) that have not expired, oldest
    first; times are epoch seconds with microseconds. Pass ``time`` as the next
    ``since``. 401 without the feed credential, 400 for a bad ``since``.
    """

    authentication_classes = [RevocationFeedAuthentication]
    permission_classes = [IsAuthenticated]
    renderer_classes = [JSONRenderer]

    def get(self, request: Request) -> Response:
        now = timezone.now()
        since = parse_since(request.query_params.get("since"), now=now)
        entries = subject_revocations_since(since=since - FEED_OVERLAP, now=now)
        revoked = token_revocations_since(since=since - FEED_OVERLAP, now=now)
        response = Response(
            {
                "time": now.timestamp(),
                "window": revocation_window().total_seconds(),
                "revocations": [
                    {"sub": sub, "not_before": not_before.timestamp()}
                    for sub, not_before in entries
                ],
                "tokens": [
                    {"jti": jti, "exp": exp.timestamp()} for jti, exp in revoked
                ],
            }
        )
        patch_cache_control(response, private=True, no_store=True)
        return response


def parse_since(value: str | None, *, now: datetime) -> datetime:
    """Return the ``since`` parameter as a datetime (the epoch if absent).

    Raise ``ParseError`` (400) unless it is a finite, non-negative number.
    """
    if value is None or value == "":
        return datetime.fromtimestamp(0, UTC)
    try:
        seconds = float(value)
    except ValueError as exc:
        raise ParseError("since must be a time in seconds since the epoch.") from exc
    if not math.isfinite(seconds) or seconds < 0:
        raise ParseError("since must be a time in seconds since the epoch.")
    return datetime.fromtimestamp(min(seconds, now.timestamp()), UTC)
