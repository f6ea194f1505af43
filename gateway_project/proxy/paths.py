"""Path safety: the request target the gateway forwards is exactly what it checked.

The raw request target (as the client sent it) is checked before routing: it
must be an origin-form path whose percent-decoded form has no ``.``/``..`` or
empty segments, no encoded ``/`` or ``\\``, no control characters and no
encoded ``%`` (which a second decoding would turn into something else). The
raw path is forwarded unchanged, so the service decodes it to the same path
the gateway routed on.
"""

import re
from urllib.parse import unquote_to_bytes

from django.http import HttpRequest
from django.utils.encoding import escape_uri_path

# RFC 3986 pchar, "/" and "%" (escapes are checked apart): anything else
# (backslash, space, "#", non-ASCII, ...) is not a path a client sends.
_RAW_PATH = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*")
_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
# Escapes of "/", "\", "%" and of control characters.
_FORBIDDEN_ESCAPE = re.compile(r"%(2f|5c|25|[01][0-9a-f]|7f)", re.IGNORECASE)
_DOT_SEGMENTS = {".", ".."}


class UnsafePath(ValueError):
    """The request target is not a plain path, or decodes to something else."""


def raw_target(request: HttpRequest) -> str:
    """Return the request target as the client sent it.

    gunicorn gives it as ``RAW_URI`` and uWSGI as ``REQUEST_URI``; under other
    servers (``runserver``, the test client) the decoded path is escaped again,
    which is what is then forwarded, so the check still covers what the service
    sees.
    """
    target = request.META.get("RAW_URI") or request.META.get("REQUEST_URI")
    if target is not None:
        return target
    return escape_uri_path(request.path)


def checked_path(target: str) -> tuple[str, str]:
    """Return ``(raw path, decoded path)`` of ``target``, its query string apart.

    Raise ``UnsafePath`` unless ``target`` is an origin-form path ("/...", not
    "//...": absolute-form and authority-form targets are refused) that decodes
    to the same segments it shows.
    """
    raw_path = target.split("?", 1)[0]
    if not raw_path.startswith("/") or raw_path.startswith("//"):
        raise UnsafePath("not an origin-form path")
    if not _RAW_PATH.fullmatch(raw_path) or _ESCAPE.search(raw_path):
        raise UnsafePath("invalid characters or escapes")
    if _FORBIDDEN_ESCAPE.search(raw_path):
        raise UnsafePath("encoded slash, backslash, percent or control character")
    try:
        path = unquote_to_bytes(raw_path).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnsafePath("not UTF-8") from exc
    segments = path.split("/")[1:]
    if any(
        segment.split(";", 1)[0] in _DOT_SEGMENTS or not segment
        for segment in segments[:-1]
    ) or (segments[-1].split(";", 1)[0] in _DOT_SEGMENTS):
        raise UnsafePath("dot or empty segments")
    return raw_path, path
