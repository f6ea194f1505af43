"""Fake upstream services on 127.0.0.1 for the proxy tests (Django-free, no tests).

- ``RecordingUpstream``: a real HTTP/1.1 server recording every request it gets
  and answering by path (echo, redirect, gzip, hop-by-hop headers, streaming,
  a held answer released by the test).
- ``SilentUpstream``: accepts connections and never answers (read timeouts).
- ``JammedUpstream``: a full listen backlog, so connecting times out.
- ``CannedUpstream``: raw sockets answering each request with the next canned
  bytes, whatever they are (hostile and unusual answers), counting connections.
- ``dead_url()``: a port where nothing listens (connection refused).
"""

from __future__ import annotations

import gzip
import json
import socket
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from devstack.stack import free_port

GZIPPED = gzip.compress(json.dumps({"compressed": True}).encode(), mtime=0)
STREAM_CHUNK = b"x" * 65536
STREAM_CHUNKS = 16


@dataclass(frozen=True)
class Recorded:
    """One request as the upstream received it."""

    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        """Return the value of header ``name`` (several joined by ", "), or None."""
        values = [v for n, v in self.headers if n.lower() == name.lower()]
        return ", ".join(values) if values else None

    @property
    def names(self) -> set[str]:
        return {name.lower() for name, _ in self.headers}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        recorded = Recorded(self.command, self.path, list(self.headers.items()), body)
        self.server.upstream.requests.append(recorded)
        path = self.path.split("?", 1)[0]
        for suffix, answer in _ANSWERS.items():
            if path.endswith(suffix):
                return answer(self)
        return self._json(200, _echo(recorded))

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _handle

    def _json(self, status: int, data: object, **headers: str) -> None:
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def redirect(self) -> None:
        self._json(302, {"detail": "moved"}, Location="/api/orders/elsewhere/")

    def gzipped(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(GZIPPED)))
        self.end_headers()
        self.wfile.write(GZIPPED)

    def hop_by_hop(self) -> None:
        payload = b"{}"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Connection", "keep-alive, X-Hop-Secret")
        self.send_header("Keep-Alive", "timeout=5")
        self.send_header("X-Hop-Secret", "for the next hop only")
        self.send_header("Proxy-Authenticate", "Basic")
        self.send_header("Trailer", "X-Checksum")
        self.send_header("Set-Cookie", "first=1; Path=/")
        self.send_header("Set-Cookie", "second=2; Path=/; HttpOnly")
        self.send_header("Vary", "Accept")
        self.send_header("Vary", "Accept-Language")
        self.end_headers()
        self.wfile.write(payload)

    def stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for _ in range(STREAM_CHUNKS):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(STREAM_CHUNK), STREAM_CHUNK))
        self.wfile.write(b"0\r\n\r\n")

    def odd(self) -> None:
        """A folded header line and a status code HTTP does not have."""
        self.wfile.write(
            b"HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\nContent-Length: 2\r\n\r\n{}"
        )

    def bad_status(self) -> None:
        self.wfile.write(b"HTTP/1.1 999 Odd\r\nContent-Length: 2\r\n\r\n{}")

    def unavailable(self) -> None:
        self._json(503, {"detail": "service says no"}, Retry_After="7")

    def hold(self) -> None:
        self.server.upstream.holding.release()
        self.server.upstream.release.wait(timeout=30)
        self._json(200, {"held": True})


_ANSWERS = {
    "/redirect/": _Handler.redirect,
    "/gzip/": _Handler.gzipped,
    "/hop/": _Handler.hop_by_hop,
    "/stream/": _Handler.stream,
    "/unavailable/": _Handler.unavailable,
    "/folded/": _Handler.odd,
    "/bad-status/": _Handler.bad_status,
    "/hold/": _Handler.hold,
}


def _echo(recorded: Recorded) -> dict:
    return {
        "method": recorded.method,
        "target": recorded.target,
        "headers": {name.lower(): recorded.header(name) for name in recorded.names},
        "body": recorded.body.decode("latin-1"),
    }


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    upstream: RecordingUpstream

    def handle_error(self, request: object, client_address: object) -> None:
        """Stay quiet when the gateway drops a connection (it does, on purpose)."""


class RecordingUpstream:
    """A service on 127.0.0.1 recording ``requests``; see ``_ANSWERS`` for paths.

    A request to ``.../hold/`` releases ``holding`` (a semaphore, one per
    request) and waits until the test sets ``release``.
    """

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.holding = threading.Semaphore(0)
        self.release = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.upstream = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()


class RawListener:
    """A socket listening on 127.0.0.1: each accepted connection goes to
    ``connected(connection, number)`` (numbered from 1) on a thread of its own;
    ``connections`` counts them. Subclasses set their state before calling
    ``__init__`` (it starts accepting)."""

    def __init__(self) -> None:
        self.connections = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(
                target=self.connected,
                args=(connection, self.connections),
                daemon=True,
            ).start()

    def connected(self, connection: socket.socket, number: int) -> None:
        """Serve one accepted connection."""
        raise NotImplementedError

    def close(self) -> None:
        """Stop listening."""
        self._listener.close()


class SilentUpstream(RawListener):
    """Accepts connections and never answers; ``accepted`` counts them."""

    def __init__(self) -> None:
        self._open: list[socket.socket] = []
        self.accepted = threading.Semaphore(0)
        super().__init__()

    def connected(self, connection: socket.socket, number: int) -> None:
        self._open.append(connection)
        self.accepted.release()

    def close(self) -> None:
        super().close()
        for connection in self._open:
            connection.close()


class JammedUpstream:
    """A listener with a full backlog that never accepts: connecting times out."""

    def __init__(self) -> None:
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(0)
        # The one queued connection the backlog holds; later SYNs are dropped.
        self._filler = socket.create_connection(self._listener.getsockname())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def close(self) -> None:
        self._filler.close()
        self._listener.close()


@dataclass(frozen=True)
class Canned:
    """Bytes sent as they are in answer to one request; ``close``: then hang up."""

    data: bytes
    close: bool = False


class CannedUpstream(RawListener):
    """A service on 127.0.0.1 that answers each request with the next of ``answers``.

    Requests (head, and a body of their ``Content-Length``) are read from any
    connection; ``answers`` are taken in order whatever the connection, and once
    none is left the answer is a well-formed keep-alive 200 whose JSON body says
    which connection carried it: ``{"connection": n}``. ``seen`` records
    ``(connection number, request line)`` per request; ``connections`` counts
    the connections accepted; ``hung_up`` is released each time the service has
    closed a connection after an answer with ``close``.
    """

    def __init__(self, *answers: Canned) -> None:
        self.answers = list(answers)
        self.seen: list[tuple[int, str]] = []
        self.hung_up = threading.Semaphore(0)
        super().__init__()

    def _next(self, number: int) -> Canned:
        try:
            return self.answers.pop(0)
        except IndexError:
            body = json.dumps({"connection": number}).encode()
            return Canned(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
            )

    def connected(self, conn: socket.socket, number: int) -> None:
        hang_up = False
        with conn, conn.makefile("rb") as reader:
            try:
                while not hang_up and (request_line := reader.readline()):
                    length = 0
                    while (line := reader.readline()) not in (b"\r\n", b""):
                        name, _, value = line.decode("latin-1").partition(":")
                        if name.strip().lower() == "content-length":
                            length = int(value)
                    reader.read(length)
                    self.seen.append((number, request_line.decode("latin-1").strip()))
                    answer = self._next(number)
                    conn.sendall(answer.data)
                    hang_up = answer.close
            except OSError:  # the gateway dropped the connection: fine
                return
        if hang_up:
            self.hung_up.release()

    def close(self) -> None:
        self._listener.close()


def dead_url() -> str:
    """Return the URL of a 127.0.0.1 port where nothing listens."""
    return f"http://127.0.0.1:{free_port()}"
