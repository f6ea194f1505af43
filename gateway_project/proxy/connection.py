"""The proxy hop's connections: urllib3's, reading a service's headers cheaply.

``http.client`` hands every response's header block to the ``email`` package's
feed parser: 7% of the gateway's instructions per proxied request, 12% of its
time under cProfile (docs/performance.md). ``ProxyHTTPResponse`` reads the
header lines as ``http.client`` does (same line and count limits) and, when
every line is a plain ``name: value`` line or a folded continuation, builds
the same ``HTTPMessage`` directly, with the values the ``email`` package's
``compat32`` policy would give. Any other block (a bare CR, a line that is not
a header, a From line) goes to ``http.client.parse_headers`` as before, so odd
answers are read exactly as they always were.
"""

from __future__ import annotations

import http.client
import io
import re

from urllib3.connection import HTTPConnection, HTTPSConnection

# http.client's limits (``_MAXLINE``, ``_MAXHEADERS``).
MAX_LINE = 65536
MAX_HEADERS = 100
# A header line the email package's feed parser takes as ``name:value``
# (``email.feedparser.headerRE``, less its From line), ending in CRLF or LF and
# with no other CR in it; or a continuation line (space or tab first).
_PLAIN_LINE = re.compile(r"(?:[\x21-\x39\x3b-\x7e]+:|[ \t])[^\r\n]*\r?\n")
_END_OF_HEADERS = (b"\r\n", b"\n", b"")


def read_header_lines(fp: io.BufferedIOBase) -> list[bytes]:
    """Return the header lines of ``fp``, the blank line that ends them included.

    Raise ``LineTooLong`` or ``HTTPException`` as ``http.client`` does past its
    limits.
    """
    lines = []
    while True:
        line = fp.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise http.client.LineTooLong("header line")
        lines.append(line)
        if len(lines) > MAX_HEADERS:
            raise http.client.HTTPException(f"got more than {MAX_HEADERS} headers")
        if line in _END_OF_HEADERS:
            return lines


def parse_header_lines(lines: list[bytes]) -> http.client.HTTPMessage:
    """Return the ``HTTPMessage`` of ``lines`` (from ``read_header_lines``).

    The same message, names, values and order as ``http.client.parse_headers``
    gives, built without the ``email`` parser when every line is plain.
    """
    header_lines = [line.decode("iso-8859-1") for line in lines[:-1]]
    if not all(map(_PLAIN_LINE.fullmatch, header_lines)) or (
        header_lines and header_lines[0][0] in " \t"
    ):
        return http.client.parse_headers(io.BytesIO(b"".join(lines)))
    message = http.client.HTTPMessage()
    name = value = None
    for line in header_lines:
        if line[0] in " \t":
            value += line  # type: ignore[operator]
            continue
        if name is not None:
            message.set_raw(name, value.rstrip("\r\n"))  # type: ignore[union-attr]
        name, value = line.split(":", 1)
        value = value.lstrip(" \t")
    if name is not None:
        message.set_raw(name, value.rstrip("\r\n"))  # type: ignore[union-attr]
    return message


class ProxyHTTPResponse(http.client.HTTPResponse):
    """``http.client``'s response, its headers read by ``parse_header_lines``.

    ``begin`` is ``http.client.HTTPResponse.begin`` (CPython 3.11 to 3.13) with
    that one step changed; the rest of the class is untouched.
    """

    def begin(self) -> None:
        if self.headers is not None:
            return
        while True:
            version, status, reason = self._read_status()  # type: ignore[attr-defined]
            if status != http.client.CONTINUE:
                break
            read_header_lines(self.fp)  # a 100 Continue's headers
        self.code = self.status = status
        self.reason = reason.strip()
        if version in ("HTTP/1.0", "HTTP/0.9"):
            self.version = 10
        elif version.startswith("HTTP/1."):
            self.version = 11
        else:
            raise http.client.UnknownProtocol(version)
        self.headers = self.msg = parse_header_lines(read_header_lines(self.fp))
        transfer_coding = self.headers.get("transfer-encoding")
        if transfer_coding and transfer_coding.lower() == "chunked":
            self.chunked = True
            self.chunk_left = None
        else:
            self.chunked = False
        self.will_close = self._check_close()  # type: ignore[attr-defined]
        self.length = None
        length = self.headers.get("content-length")
        if length and not self.chunked:
            try:
                self.length = int(length)
            except ValueError:
                self.length = None
            else:
                if self.length < 0:
                    self.length = None
        if (
            status in (http.client.NO_CONTENT, http.client.NOT_MODIFIED)
            or 100 <= status < 200
            or self._method == "HEAD"  # type: ignore[attr-defined]
        ):
            self.length = 0
        if not self.will_close and not self.chunked and self.length is None:
            self.will_close = True


class ProxyHTTPConnection(HTTPConnection):
    """urllib3's HTTP connection, answering with ``ProxyHTTPResponse``."""

    response_class = ProxyHTTPResponse


class ProxyHTTPSConnection(HTTPSConnection):
    """urllib3's HTTPS connection, answering with ``ProxyHTTPResponse``."""

    response_class = ProxyHTTPResponse
