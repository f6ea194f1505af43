"""The proxy hop's HTTP/1.1 client: one keep-alive connection to a service.

urllib3 on ``http.client`` cost the gateway about 245 µs of CPU per proxied
request, a quarter of its own work (``email``'s header parser alone a tenth);
this writes the request head in one send and parses the response head in one
pass (docs/performance.md). The pool that holds these connections is
``proxy.upstreams``; the view maps the errors below to 502/503/504.

Response framing follows RFC 9112 section 6.3: no body after a ``HEAD``, a 1xx,
204 or 304; a chunked ``Transfer-Encoding`` is decoded (any other transfer
coding is a ``BadResponse``: ``Transfer-Encoding`` is hop-by-hop, the client
would get the coded bytes unlabelled); a ``Content-Length`` must be one number;
without either the body runs to the close. At most ``MAX_INTERIM`` 1xx answers
may come before the final one. A connection goes back to the pool only after a
framed body was read to its end, from an HTTP/1.1 answer without
``Connection: close``. A head that is not HTTP/1.x, has a malformed line or a
control character, or exceeds ``MAX_HEAD`` bytes is a ``BadResponse``, as is
a 101 (the gateway never asks for an upgrade).
"""

from __future__ import annotations

import re
import select
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass

MAX_HEAD = 64 * 1024
CHUNK_SIZE = 64 * 1024
_MAX_CHUNK_LINE = 4096
MAX_INTERIM = 8
# A request target as sent on the wire: visible ASCII, no space.
_TARGET = re.compile(r"[!-~]+")
_STATUS_LINE = re.compile(r"HTTP/1\.([01]) (\d{3})(?: ([^\x00-\x08\x0a-\x1f\x7f]*))?")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FIELD = re.compile(rf"({_TOKEN.pattern}):[ \t]*([^\x00-\x08\x0a-\x1f\x7f]*?)[ \t]*")
_FOLD = re.compile(r"[ \t]+([^\x00-\x08\x0a-\x1f\x7f]*?)[ \t]*")
_DIGITS = re.compile(r"[0-9]+")
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(?:;[^\r\n]*)?")


class UpstreamError(Exception):
    """The service could not be asked, or gave no usable answer."""


class ConnectFailed(UpstreamError):
    """The connection was refused, or the host is unknown or unreachable."""


class ConnectTimeout(UpstreamError):
    """No connection within the connect timeout."""


class ReadTimeout(UpstreamError):
    """The service took longer than the read timeout to send or take bytes."""


class BadResponse(UpstreamError):
    """The service answered something that is not HTTP/1.x, or broke off a body."""


class PoolBusy(UpstreamError):
    """Every connection to the service stayed in use for the pool timeout."""


class ClosedUnanswered(UpstreamError):
    """The connection was closed (or reset) before any byte of an answer came."""


@dataclass(frozen=True)
class Endpoint:
    """Where a pool connects: host, port, TLS context (None for plain HTTP),
    and the ``Host`` header its requests carry."""

    host: str
    port: int
    tls: ssl.SSLContext | None
    host_header: str
    connect_timeout: float
    read_timeout: float


class Connection:
    """One connection to a service, opened on first use.

    ``idle_since`` is set by the pool when it takes the connection back.
    """

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.sock: socket.socket | None = None
        self.idle_since = 0.0
        self._buffer = b""

    def close(self) -> None:
        """Close the socket (the next ``send`` opens a new one)."""
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        self._buffer = b""

    def dropped(self) -> bool:
        """Return True if an idle connection was closed by the service or has
        unexpected bytes waiting: either way it cannot carry a request.

        Bytes already read past the last answer count: they are no answer to
        the next request (a service smuggling a second response after a body).
        """
        if self._buffer:
            return True
        if self.sock is None:
            return False
        poller = select.poll()
        poller.register(self.sock, select.POLLIN)
        return bool(poller.poll(0))

    def _open(self) -> socket.socket:
        endpoint = self.endpoint
        try:
            sock = socket.create_connection(
                (endpoint.host, endpoint.port), timeout=endpoint.connect_timeout
            )
        except TimeoutError as exc:
            raise ConnectTimeout(str(exc)) from exc
        except OSError as exc:  # refused, unreachable, name not resolved
            raise ConnectFailed(str(exc)) from exc
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if endpoint.tls is not None:
                sock = endpoint.tls.wrap_socket(sock, server_hostname=endpoint.host)
        except TimeoutError as exc:
            sock.close()
            raise ConnectTimeout(str(exc)) from exc
        except OSError as exc:  # ssl.SSLError included: no answer to trust
            sock.close()
            raise BadResponse(f"TLS handshake failed: {exc}") from exc
        sock.settimeout(endpoint.read_timeout)
        return sock

    def send(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> Response:
        """Send one request and return the response once its head has come.

        ``headers`` are sent as given (the caller sets ``Content-Length``); a
        name or value with a line break or NUL is a ``ValueError``.
        """
        if _TARGET.fullmatch(target) is None:
            raise ValueError(f"not a request target: {target[:80]!r}")
        lines = [f"{method} {target} HTTP/1.1\r\nHost: {self.endpoint.host_header}\r\n"]
        for name, value in headers.items():
            if _TOKEN.fullmatch(name) is None:
                raise ValueError(f"not a header name: {name[:40]!r}")
            lines.append(f"{name}: {value}\r\n")
        lines.append("\r\n")
        head = "".join(lines)
        # No CR or LF but the head's own line ends, and no NUL: nothing injected.
        crlf = head.count("\r\n")
        if (
            not crlf == head.count("\r") == head.count("\n") == len(headers) + 3
            or "\0" in head
        ):
            raise ValueError("a request line or header value holds a line break or NUL")
        data = head.encode("latin-1") + body  # UnicodeEncodeError is a ValueError
        if self.sock is None:
            self.sock = self._open()
        try:
            self.sock.sendall(data)
        except TimeoutError as exc:
            raise ReadTimeout("sending the request timed out") from exc
        except OSError as exc:
            raise ClosedUnanswered(str(exc)) from exc
        for _ in range(MAX_INTERIM + 1):
            response = self._read_head(method)
            if response is not None:
                return response
        raise BadResponse(f"more than {MAX_INTERIM} interim (1xx) answers")

    # -- reading -------------------------------------------------------------
    def _recv(self) -> bytes:
        assert self.sock is not None
        try:
            return self.sock.recv(CHUNK_SIZE)
        except TimeoutError as exc:
            raise ReadTimeout("the service did not answer in time") from exc

    def _read_head(self, method: str) -> Response | None:
        """Return the response whose head is next, or None after a 1xx."""
        buffer = self._buffer
        while (end := buffer.find(b"\r\n\r\n")) < 0:
            if len(buffer) > MAX_HEAD:
                raise BadResponse("response head too large")
            try:
                data = self._recv()
            except (ConnectionResetError, BrokenPipeError) as exc:
                if buffer:
                    raise BadResponse(str(exc)) from exc
                raise ClosedUnanswered(str(exc)) from exc
            if not data:
                if buffer:
                    raise BadResponse("connection closed within the response head")
                raise ClosedUnanswered("connection closed before any answer")
            buffer += data
        if end > MAX_HEAD:
            raise BadResponse("response head too large")
        self._buffer = buffer[end + 4 :]
        version, status, reason, fields = _parse_head(buffer[:end])
        if status == 101:  # RFC 9110 section 15.2.2: not asked (no Upgrade sent)
            raise BadResponse("101 Switching Protocols to a request without Upgrade")
        if 100 <= status < 200:
            return None  # 100 Continue, 103 Early Hints: the answer follows
        return Response(self, method, version, status, reason, fields)

    def _more(self) -> bytes:
        """Return the buffered bytes or the next ones received; b"" at the close."""
        if self._buffer:
            data, self._buffer = self._buffer, b""
            return data
        return self._recv()

    def _line(self) -> bytes:
        """Return the next CRLF-terminated line (without it) of a chunked body."""
        while (end := self._buffer.find(b"\r\n")) < 0:
            if len(self._buffer) > _MAX_CHUNK_LINE:
                raise BadResponse("chunk line too long")
            data = self._recv()
            if not data:
                raise BadResponse("connection closed within a chunked body")
            self._buffer += data
        line, self._buffer = self._buffer[:end], self._buffer[end + 2 :]
        return line

    def _exactly(self, size: int) -> Iterator[bytes]:
        """Yield the next ``size`` bytes as they come."""
        while size > 0:
            data = self._more()
            if not data:
                raise BadResponse("connection closed within the response body")
            if len(data) > size:
                self._buffer, data = data[size:], data[:size]
            size -= len(data)
            yield data


def _parse_head(raw: bytes) -> tuple[int, int, str, list[tuple[str, str]]]:
    """Return (minor version, status, reason, fields) of a response head."""
    status_line, *lines = raw.decode("latin-1").split("\r\n")
    match = _STATUS_LINE.fullmatch(status_line)
    if match is None:
        raise BadResponse(f"not an HTTP/1.x status line: {status_line[:80]!r}")
    fields: list[tuple[str, str]] = []
    for line in lines:
        if line[:1] in (" ", "\t") and fields:  # obs-fold: RFC 9112 section 5.2
            folded = _FOLD.fullmatch(line)
            if folded is None:
                raise BadResponse("malformed folded header line")
            name, value = fields[-1]
            fields[-1] = (name, f"{value} {folded[1]}" if value else folded[1])
            continue
        field = _FIELD.fullmatch(line)
        if field is None:
            raise BadResponse(f"malformed header line: {line[:80]!r}")
        fields.append((field[1], field[2]))
    return int(match[1]), int(match[2]), match[3] or "", fields


def _tokens(values: list[str]) -> list[str]:
    """Return the comma-separated elements of ``values``, lower-cased."""
    return [
        token.strip().lower()
        for value in values
        for token in value.split(",")
        if token.strip()
    ]


class Response:
    """A service's answer: status, reason, header fields, and its body as
    ``iter_body()`` reads it (``complete`` once read to its end)."""

    def __init__(
        self,
        connection: Connection,
        method: str,
        minor_version: int,
        status: int,
        reason: str,
        fields: list[tuple[str, str]],
    ) -> None:
        self.connection = connection
        self.status = status
        self.reason = reason
        self.fields = fields
        self.complete = False
        # Each field's values under its lower-cased name, read by ``header``.
        self.values: dict[str, list[str]] = {}
        for name, value in fields:
            self.values.setdefault(name.lower(), []).append(value)
        encodings = _tokens(self.values.get("transfer-encoding", []))
        lengths = set(_tokens(self.values.get("content-length", [])))
        self.chunked = bool(encodings) and encodings[-1] == "chunked"
        self.length: int | None = None
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            self.length = 0
        elif encodings:
            if encodings != ["chunked"]:
                raise BadResponse(f"transfer coding not relayable: {encodings}")
        elif lengths:
            # Not str.isdigit(): it takes "\xb2" (superscript two), int() does not.
            if len(lengths) > 1 or not all(_DIGITS.fullmatch(v) for v in lengths):
                raise BadResponse(f"invalid Content-Length: {sorted(lengths)}")
            self.length = int(lengths.pop())
        framed = self.chunked or self.length is not None
        if encodings and lengths:
            # RFC 9112 section 6.3: Transfer-Encoding overrides Content-Length,
            # which an intermediary removes before forwarding: it is not the
            # length of the body relayed.
            self.fields = [f for f in fields if f[0].lower() != "content-length"]
            del self.values["content-length"]
        # Transfer-Encoding and Content-Length together: read it, then close.
        self.reusable = (
            framed
            and minor_version == 1
            and not (encodings and lengths)
            and "close" not in _tokens(self.values.get("connection", []))
        )
        if self.length == 0:
            self.complete = True

    def header(self, name: str) -> str | None:
        """Return field ``name``'s values joined by ", ", or None without it."""
        values = self.values.get(name)
        return ", ".join(values) if values else None

    def whole_body(self) -> bytes | None:
        """Return the body if it came whole with the head (the response is then
        ``complete``), None if it must be read with ``iter_body``.

        Only a ``Content-Length`` body that is not empty qualifies; bytes past
        it stay in the buffer, so the connection counts as ``dropped``.
        """
        buffer = self.connection._buffer
        if self.complete or self.chunked or not self.length:
            return None
        if len(buffer) < self.length:
            return None
        body, self.connection._buffer = buffer[: self.length], buffer[self.length :]
        self.complete = True
        return body

    def iter_body(self) -> Iterator[bytes]:
        """Yield the body as it arrives (chunked framing removed)."""
        if self.complete:
            return
        connection = self.connection
        if self.chunked:
            while True:
                line = connection._line()
                size = _CHUNK_SIZE.fullmatch(line)
                if size is None:
                    raise BadResponse(f"malformed chunk size line: {line[:40]!r}")
                if not int(size[1], 16):
                    while connection._line():  # trailer fields, dropped
                        pass
                    break
                yield from connection._exactly(int(size[1], 16))
                if connection._line():
                    raise BadResponse("chunk data not followed by CRLF")
        elif self.length is not None:
            yield from connection._exactly(self.length)
        else:
            while data := connection._more():
                yield data
        self.complete = True
