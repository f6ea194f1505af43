"""Reading an OAuth request: its form (RFC 6749 section 3.2) and its client's
credentials (section 2.3.1), then authenticating the client, throttled.

One method per request: HTTP Basic (``client_secret_basic``) or the
``client_id``/``client_secret`` form fields (``client_secret_post``); both at
once is ``invalid_request``. A ``client_id`` field equal to the Basic one is
tolerated (several client libraries send it). Failed authentications are
counted per client id (``normalise_identifier``) and per address, in the same
shared cache as failed logins, and refused for a while once the rate is met.
"""

import base64
import binascii
import logging
import math
from dataclasses import dataclass, field
from urllib.parse import unquote_plus

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest

from gateway_project.identity.throttling import (
    ClientIdThrottle,
    IPLoginThrottle,
)
from gateway_project.oauth.errors import OAuthError, invalid_client, invalid_request
from gateway_project.oauth.models import Client
from gateway_project.oauth.selectors import client_authenticate
from shared_auth.conf import auth_settings

logger = logging.getLogger(__name__)

FORM_TYPE = "application/x-www-form-urlencoded"
MAX_BODY_SIZE = 32 * 1024
MAX_FIELD_LENGTH = 1024
# Fields that may be longer than MAX_FIELD_LENGTH: tokens.
TOKEN_FIELDS = ("subject_token", "actor_token", "token")
# Never accepted in the query string: they would end up in access logs.
SECRET_FIELDS = ("client_secret", *TOKEN_FIELDS)
MAX_CLIENT_ID_LENGTH = 128
MAX_SECRET_LENGTH = 256
MAX_AUTHORIZATION_LENGTH = 1024


@dataclass(frozen=True)
class Credentials:
    """What a request presented: client id, secret and how (``basic``)."""

    client_id: str
    secret: str = field(repr=False)
    basic: bool


def read_form(request: HttpRequest) -> dict[str, str]:
    """Return the form parameters of a POST; raise ``invalid_request`` unless it is
    a bounded form (no JSON, no repeated parameter, no secret in the URL)."""
    if request.method != "POST":
        raise invalid_request("Use POST.", status=405)
    if request.content_type != FORM_TYPE:
        raise invalid_request(f"The body must be {FORM_TYPE}.")
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_BODY_SIZE:
        raise invalid_request("The request body is too large.", status=413)
    if any(name in request.GET for name in SECRET_FIELDS):
        raise invalid_request("Credentials and tokens belong in the body, not the URL.")
    try:
        lists = dict(request.POST.lists())
    except (RequestDataTooBig, SuspiciousOperation, ValueError) as exc:
        raise invalid_request("The body is not a valid form.") from exc
    form: dict[str, str] = {}
    for name, values in lists.items():
        if len(values) != 1:
            raise invalid_request(f"{name[:64]} is repeated.")
        limit = (
            auth_settings.MAX_TOKEN_LENGTH if name in TOKEN_FIELDS else MAX_FIELD_LENGTH
        )
        if len(values[0]) > limit:
            raise invalid_request(f"{name[:64]} is too long.")
        form[name] = values[0]
    return form


def read_credentials(request: HttpRequest, form: dict[str, str]) -> Credentials:
    """Return the client credentials the request presents.

    Raise ``invalid_client`` (401) without any, or with a malformed Basic
    header or another scheme, and ``invalid_request`` for two at once or
    oversized ones.
    """
    header = request.META.get("HTTP_AUTHORIZATION")
    if header is None:
        client_id, secret = form.get("client_id"), form.get("client_secret")
        if not client_id or secret is None:
            raise invalid_client("Client authentication is required.", basic=True)
        basic = False
    else:
        if len(header) > MAX_AUTHORIZATION_LENGTH:
            raise invalid_request("The Authorization header is too long.")
        client_id, secret = _basic(header)
        if "client_secret" in form or form.get("client_id", client_id) != client_id:
            raise invalid_request("Use one client authentication method, not two.")
        basic = True
    if len(client_id) > MAX_CLIENT_ID_LENGTH or len(secret) > MAX_SECRET_LENGTH:
        raise invalid_request("The client credentials are too long.")
    return Credentials(client_id=client_id, secret=secret, basic=basic)


def _basic(header: str) -> tuple[str, str]:
    """Return the client id and secret of an HTTP Basic header (RFC 6749 2.3.1:
    each form-urlencoded, then joined by ``:`` and base64-encoded)."""
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic":
        raise invalid_client("Use HTTP Basic client authentication.", basic=True)
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, ValueError) as exc:
        raise invalid_client("Malformed Basic credentials.", basic=True) from exc
    client_id, colon, secret = decoded.partition(":")
    if not colon or not client_id:
        raise invalid_client("Malformed Basic credentials.", basic=True)
    return unquote_plus(client_id), unquote_plus(secret)


def authenticate_client(request: HttpRequest, form: dict[str, str]) -> Client:
    """Return the client that ``request`` authenticates as.

    Raise ``invalid_client`` (401) for unknown, inactive or wrong credentials,
    and 429 ``temporarily_unavailable`` with ``Retry-After`` while the client
    id or the address has too many recent failures. If the throttle's cache is
    down, the throttles count in this process (``LoginFailureThrottle``): a
    service exchanging tokens does not fail with Redis.
    """
    credentials = read_credentials(request, form)
    throttles = [ClientIdThrottle(credentials.client_id), IPLoginThrottle()]
    waits = [t.wait() or 0 for t in throttles if not t.allow_request(request, None)]
    if waits:
        wait = max(1, math.ceil(max(waits)))
        raise OAuthError(
            "temporarily_unavailable",
            f"Too many failed client authentications; retry in {wait} s.",
            status=429,
            retry_after=wait,
        )
    client = client_authenticate(
        client_id=credentials.client_id, secret=credentials.secret
    )
    if client is None:
        for throttle in throttles:
            throttle.record_failure()
        # An unknown id is not logged: it may be a secret pasted in the wrong field.
        known = Client.objects.filter(client_id=credentials.client_id).exists()
        logger.info(
            "OAuth client authentication failed for client %s",
            credentials.client_id if known else "(unknown)",
        )
        raise invalid_client("Client authentication failed.", basic=credentials.basic)
    return client
