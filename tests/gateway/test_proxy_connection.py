"""The proxy hop's response headers: the same message ``http.client`` would make.

``parse_header_lines`` builds plain header blocks itself and hands any other
block to ``http.client.parse_headers``; either way names, values and order
must be what ``http.client`` (and so urllib3) has always given.
"""

import http.client
import io
import random

import pytest

from gateway_project.proxy.connection import (
    MAX_HEADERS,
    MAX_LINE,
    ProxyHTTPResponse,
    parse_header_lines,
    read_header_lines,
)

BLOCKS = [
    b"\r\n",
    b"",
    b"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
    b"Set-Cookie: a=1\r\nSet-Cookie: b=2\r\nVary: Accept\r\n\r\n",
    b"X-Folded: a\r\n b\r\n\tc\r\n\r\n",
    b"A:  spaced  \r\nB:\r\nC:x\r\n\r\n",
    b"A: 1\nB: 2\n\n",
    b"A: 1\r\nB: 2\r\n",  # the connection closed before the blank line
    # Not plain: read by http.client's own parser, as before.
    b" First: continued\r\nB: 2\r\n\r\n",
    b":empty-name\r\nB: 2\r\n\r\n",
    b"A: 1\rB: 2\r\n\r\n",
    b"Not a header\r\nB: 2\r\n\r\n",
    b"From nobody\r\nB: 2\r\n\r\n",
    b"A: caf\xe9\x85\r\n\r\n",
    b"A: 1",
]


def both(block: bytes) -> tuple[http.client.HTTPMessage, http.client.HTTPMessage]:
    expected = http.client.parse_headers(io.BytesIO(block))
    return expected, parse_header_lines(read_header_lines(io.BytesIO(block)))


@pytest.mark.parametrize("block", BLOCKS)
def test_a_header_block_reads_as_http_client_reads_it(block):
    expected, message = both(block)
    assert message.items() == expected.items()
    assert isinstance(message, http.client.HTTPMessage)


def test_random_header_blocks_read_as_http_client_reads_them():
    pieces = [b"a", b"B", b":", b" ", b"\t", b"\r", b"\n", b"\r\n", b"\x85", b"\xe9"]
    pieces += [b"From ", b";", b"\x0b", b"\x00", b"Set-Cookie: a=1\r\n"]
    rng = random.Random(16)
    for _ in range(5000):
        block = b"".join(rng.choices(pieces, k=rng.randint(1, 12))) + b"\r\n\r\n"
        expected, message = both(block)
        assert message.items() == expected.items(), block


def test_http_client_limits_hold():
    with pytest.raises(http.client.LineTooLong):
        read_header_lines(io.BytesIO(b"A: " + b"x" * MAX_LINE + b"\r\n\r\n"))
    with pytest.raises(http.client.HTTPException, match="more than"):
        read_header_lines(io.BytesIO(b"A: 1\r\n" * (MAX_HEADERS + 1) + b"\r\n"))


# What http.client's begin() sets.
BEGUN = ("status", "reason", "version", "length", "chunked", "chunk_left", "will_close")


class FakeSocket:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(io.BytesIO(self.data))


@pytest.mark.parametrize(
    ("raw", "length", "chunked", "will_close"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", 2, False, False),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", None, True, False),
        (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
         0, False, True),
        (b"HTTP/1.1 200 OK\r\n\r\n", None, False, True),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}", 2, False, True),
        (b"HTTP/1.1 100 Continue\r\nA: 1\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
         0, False, False),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", None, False, True),
    ],
)  # fmt: skip
def test_a_response_begins_as_http_client_begins_it(raw, length, chunked, will_close):
    ours = ProxyHTTPResponse(FakeSocket(raw), method="GET")
    theirs = http.client.HTTPResponse(FakeSocket(raw), method="GET")
    ours.begin()
    theirs.begin()
    for attribute in BEGUN:
        assert getattr(ours, attribute) == getattr(theirs, attribute), attribute
    assert ours.msg.items() == theirs.msg.items()
    assert (ours.length, ours.chunked, ours.will_close) == (length, chunked, will_close)


def test_an_unknown_protocol_is_refused():
    with pytest.raises(http.client.UnknownProtocol):
        ProxyHTTPResponse(FakeSocket(b"HTTP/2.0 200 OK\r\n\r\n"), method="GET").begin()
