"""The proxy's HTTP/1.1 client (``proxy.http1``) against hostile and odd services.

End to end: the Django test client -> the proxy view -> a raw-socket service
on 127.0.0.1 answering canned bytes (``CannedUpstream``). ``POOL_SIZE`` is 1,
so a connection slot not given back shows as a 503 on the next request, and
the service counts its connections: a response whose connection was kept
leaves the next request on connection 1, one that was dropped moves it to
connection 2. A body broken off after the head was relayed cannot become an
error status any more: reading it raises, as it cuts a real client's response.

The reused-connection race (a pooled connection the service closes as a
request goes out) is tests/gateway/test_proxy_stale.py's.
"""

from __future__ import annotations

import json

import pytest

from gateway_project.identity.tokens import access_token_for
from gateway_project.proxy.http1 import BadResponse, _parse_head
from gateway_project.proxy.upstreams import proxy_config
from tests.support.proxy_fakes import Canned, CannedUpstream

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"
BAD_GATEWAY = {
    "detail": "Bad response from the upstream service.",
    "code": "bad_gateway",
}


@pytest.fixture
def serve(settings):
    """Return a function: ``serve(*answers)`` -> the service /api/orders/ goes to."""
    services: list[CannedUpstream] = []

    def _serve(*answers: Canned) -> CannedUpstream:
        service = CannedUpstream(*answers)
        services.append(service)
        settings.GATEWAY_PROXY = {
            "ROUTES": {"/api/orders/": service.url},
            "CONNECT_TIMEOUT": 0.5,
            "READ_TIMEOUT": 2.0,
            "POOL_TIMEOUT": 0.2,
            "POOL_SIZE": 1,
            "POOL_MAX_IDLE": 30.0,
        }
        return service

    yield _serve
    proxy_config.cache_clear()
    for service in services:
        service.close()


@pytest.fixture
def bearer(alice) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token_for(alice)}"}


@pytest.fixture
def send(client, bearer):
    """Return a function: ``send(method="get", path=..., **kwargs)`` -> the
    response, its body read into ``.body`` and closed (as a WSGI server does)."""

    def _send(method: str = "get", path: str = "/api/orders/", **kwargs):
        headers = {**bearer, **kwargs.pop("headers", {})}
        response = getattr(client, method)(path, headers=headers, **kwargs)
        try:
            if response.streaming:
                response.body = b"".join(response.streaming_content)
            else:
                response.body = response.content
        finally:
            response.close()
        return response

    return _send


@pytest.fixture
def connection(send):
    """Return a function: ``connection()`` -> the number of the connection a
    plain GET now goes out on (the service's default answer says it)."""

    def _connection() -> int:
        response = send()
        assert response.status_code == 200, response.body
        return json.loads(response.body)["connection"]

    return _connection


def chunked(*body: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"".join(body)


# -- framing: chunked --------------------------------------------------------------
@pytest.mark.django_db
def test_a_chunked_body_is_relayed_decoded_and_its_connection_kept(
    serve, send, connection
):
    service = serve(
        Canned(
            chunked(
                b"5\r\nhello\r\n",
                b"1;name=value;flag\r\n,\r\n",
                b'00A ; ext="q"\r\n mid-world\r\n',
                b"0\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n",
            )
        )
    )
    response = send()
    assert response.status_code == 200
    assert response.body == b"hello, mid-world"
    assert "Transfer-Encoding" not in response
    assert "X-Checksum" not in response
    assert connection() == 1
    assert service.connections == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "answer",
    [
        Canned(chunked(b"5\r\nhello\r\nzz\r\nmore\r\n0\r\n\r\n")),  # not hex
        Canned(chunked(b"0x5\r\nhello\r\n0\r\n\r\n")),
        Canned(chunked(b"-5\r\nhello\r\n0\r\n\r\n")),
        Canned(chunked(b"1" * 17 + b"\r\nhello\r\n0\r\n\r\n")),  # beyond 64 bits
        Canned(chunked(b"3\r\nabcX\r\n0\r\n\r\n")),  # data not followed by CRLF
        Canned(chunked(b"5\r\nhello\r\n"), close=True),  # no last chunk
    ],
    ids=["not-hex", "0x", "negative", "17-digits", "no-crlf-after-data", "cut"],
)
def test_a_broken_chunked_body_is_broken_off_and_its_connection_dropped(
    serve, send, connection, answer
):
    service = serve(answer)
    with pytest.raises(BadResponse):
        send()
    assert connection() == 2
    assert service.connections == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    "answer",
    [
        Canned(
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
        ),
        Canned(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Length: 3\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
        ),
    ],
    ids=["length-first", "length-last"],
)
def test_transfer_encoding_overrides_content_length_and_the_connection_is_closed(
    serve, send, connection, answer
):
    service = serve(answer)
    response = send()
    assert response.status_code == 200
    assert response.body == b"hello"
    assert "Content-Length" not in response  # not the relayed body's length
    assert connection() == 2  # the service kept it open: the gateway closed it
    assert service.connections == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    "coding", [b"gzip, chunked", b"identity", b"gzip", b"chunked, gzip"]
)
def test_a_transfer_coding_other_than_chunked_is_502(serve, send, connection, coding):
    """Transfer-Encoding is hop-by-hop: relayed without it, the coded bytes
    would reach the client unlabelled."""
    serve(
        Canned(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: " + coding + b"\r\n\r\nhello",
            close=True,
        )
    )
    response = send()
    assert response.status_code == 502
    assert response.json()["code"] == "bad_gateway"
    assert connection() == 2  # dropped, and the slot came back


# -- framing: Content-Length -------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize(
    "lengths",
    [b"Content-Length: 2\r\nContent-Length: 2\r\n", b"Content-Length: 2, 2\r\n"],
)
def test_a_repeated_equal_content_length_is_one_length(
    serve, send, connection, lengths
):
    service = serve(Canned(b"HTTP/1.1 200 OK\r\n" + lengths + b"\r\n{}"))
    response = send()
    assert response.status_code == 200
    assert response.body == b"{}"
    assert connection() == 1
    assert service.connections == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "lengths",
    [
        b"Content-Length: 2\r\nContent-Length: 3\r\n",  # two lengths
        b"Content-Length: 2, 3\r\n",
        b"Content-Length: abc\r\n",  # not a number
        b"Content-Length: -1\r\n",
        b"Content-Length: +2\r\n",
        b"Content-Length: 0x2\r\n",
        b"Content-Length: 2.0\r\n",
        b"Content-Length: 1 2\r\n",
        b"Content-Length: \xb2\r\n",  # latin-1 superscript two: str.isdigit()
    ],
)
def test_an_invalid_content_length_is_502(serve, send, connection, lengths):
    service = serve(Canned(b"HTTP/1.1 200 OK\r\n" + lengths + b"\r\n{}"))
    response = send()
    assert response.status_code == 502
    assert response.json() == BAD_GATEWAY
    assert connection() == 2
    assert service.connections == 2


@pytest.mark.django_db
def test_a_body_shorter_than_its_content_length_is_broken_off(serve, send, connection):
    service = serve(
        Canned(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", close=True)
    )
    with pytest.raises(BadResponse):
        send()
    assert connection() == 2
    assert service.connections == 2


# -- framing: to the close, and connections not kept ------------------------------
@pytest.mark.django_db
def test_a_body_without_length_runs_to_the_close_and_is_relayed_whole(
    serve, send, connection
):
    body = b"line\n" * 30000
    service = serve(
        Canned(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n" + body, close=True
        )
    )
    response = send()
    assert response.status_code == 200
    assert response.body == body
    assert "Content-Length" not in response
    assert connection() == 2
    assert service.connections == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}",
        b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nConnection: Keep-Alive, Close\r\n"
        b"Content-Length: 2\r\n\r\n{}",
    ],
    ids=["http-1.0", "http-1.0-keep-alive", "connection-close"],
)
def test_an_answer_that_does_not_keep_its_connection_is_relayed_then_closed(
    serve, send, connection, answer
):
    service = serve(Canned(answer))  # the service itself keeps it open
    response = send()
    assert response.status_code == 200
    assert response.body == b"{}"
    assert connection() == 2
    assert service.connections == 2


# -- no body ------------------------------------------------------------------------
@pytest.mark.django_db
def test_a_head_answer_has_no_body_whatever_its_length(serve, send, connection):
    service = serve(
        Canned(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1234\r\n\r\n"
        )
    )
    response = send("head")
    assert response.status_code == 200
    assert response["Content-Length"] == "1234"
    assert response.body == b""
    assert connection() == 1  # the GET got its own answer, not a body's bytes
    assert service.seen == [
        (1, "HEAD /api/orders/ HTTP/1.1"),
        (1, "GET /api/orders/ HTTP/1.1"),
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 204 No Content\r\n\r\n",
        b'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\nContent-Length: 99\r\n\r\n',
    ],
)
def test_204_and_304_have_no_body_and_keep_their_connection(
    serve, send, connection, answer
):
    service = serve(Canned(answer))
    response = send()
    assert response.status_code == int(answer[9:12])
    assert response.body == b""
    assert connection() == 1
    assert service.connections == 1


@pytest.mark.django_db
def test_interim_answers_are_skipped_for_the_real_one(serve, send, connection):
    service = serve(
        Canned(
            b"HTTP/1.1 100 Continue\r\n\r\n"
            b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
            b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}"
        )
    )
    response = send("post", data=b"{}", content_type="application/json")
    assert response.status_code == 201
    assert response.body == b"{}"
    assert "Link" not in response
    assert connection() == 1
    assert service.connections == 1


@pytest.mark.django_db
def test_endless_interim_answers_are_502(serve, send, connection):
    serve(Canned(b"HTTP/1.1 100 Continue\r\n\r\n" * 9, close=True))
    response = send()
    assert response.status_code == 502
    assert response.json()["code"] == "bad_gateway"
    assert connection() == 2


@pytest.mark.django_db
def test_switching_protocols_unasked_is_502(serve, send, connection):
    """The gateway never forwards ``Upgrade`` (hop-by-hop), so a 101 is a service
    speaking something else on the connection (RFC 9110 section 15.2.2)."""
    service = serve(
        Canned(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\n\r\n\x81\x05hello"
        )
    )
    response = send()
    assert response.status_code == 502
    assert response.json() == BAD_GATEWAY
    assert connection() == 2
    assert service.connections == 2


# -- bytes beyond the answer: response smuggling ------------------------------------
SMUGGLED = b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "answer", "relayed"),
    [
        ("get", OK + SMUGGLED, b"{}"),
        ("get", chunked(b"2\r\n{}\r\n0\r\n\r\n") + SMUGGLED, b"{}"),
        ("get", b"HTTP/1.1 204 No Content\r\n\r\n" + SMUGGLED, b""),
        ("head", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n" + SMUGGLED, b""),
    ],
    ids=["content-length", "chunked", "204", "head"],
)
def test_bytes_after_an_answer_never_reach_the_next_request(
    serve, send, connection, method, answer, relayed
):
    service = serve(Canned(answer))
    response = send(method)
    assert response.status_code in (200, 204)
    assert response.body == relayed
    assert connection() == 2
    assert service.connections == 2


# -- hostile heads -----------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/2 200\r\nContent-Length: 2",
        b"HTTP/2.0 200 OK\r\nContent-Length: 2",
        b"ICY 200 OK\r\nContent-Length: 2",
        b"http/1.1 200 OK\r\nContent-Length: 2",
        b"HTTP/1.1 20 OK\r\nContent-Length: 2",
        b"HTTP/1.1 2000 OK\r\nContent-Length: 2",
        b"HTTP/1.1 200 O\x00K\r\nContent-Length: 2",
        b"\x15\x03\x03\x00\x02\x02\x46\r\nContent-Length: 2",  # a TLS alert
        b"HTTP/1.1 200 OK\r\nContent-Length : 2",  # space before the colon
        b"HTTP/1.1 200 OK\r\nX-No-Colon\r\nContent-Length: 2",
        b"HTTP/1.1 200 OK\r\n: no name\r\nContent-Length: 2",
        b"HTTP/1.1 200 OK\r\n folded onto the status line\r\nContent-Length: 2",
        b"HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 2",
        b"HTTP/1.1 200 OK\r\nX-A: a\nb\r\nContent-Length: 2",
        b"HTTP/1.1 200 OK\r\nX-A: a\rb\r\nContent-Length: 2",
        b"HTTP/1.1 200 OK\r\nX-A: a\r\n b\x00c\r\nContent-Length: 2",
    ],
)
def test_a_malformed_head_is_502(serve, send, connection, head):
    service = serve(Canned(head + b"\r\n\r\n{}"))
    response = send()
    assert response.status_code == 502
    assert response.json() == BAD_GATEWAY
    assert connection() == 2
    assert service.connections == 2


@pytest.mark.django_db
@pytest.mark.parametrize("end", [b"\r\n\r\n{}", b""], ids=["ended", "never-ended"])
def test_a_head_over_64_kib_is_502(serve, send, connection, end):
    """Never ended: 502 as the limit passes, not a wait for the read timeout."""
    lines = b"".join(b"X-Pad-%d: %s\r\n" % (n, b"a" * 1000) for n in range(70))
    service = serve(Canned(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n" + lines + end))
    response = send()
    assert response.status_code == 502
    assert response.json() == BAD_GATEWAY
    assert connection() == 2
    assert service.connections == 2


@pytest.mark.django_db
def test_a_head_under_64_kib_is_relayed(serve, send):
    lines = b"".join(b"X-Pad-%d: %s\r\n" % (n, b"a" * 1000) for n in range(60))
    serve(Canned(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n" + lines + b"\r\n{}"))
    response = send()
    assert response.status_code == 200
    assert response["X-Pad-59"] == "a" * 1000


# -- closed unanswered: on a new connection (a reused one: test_proxy_stale.py) ----
@pytest.mark.django_db
def test_a_get_closed_unanswered_on_a_new_connection_is_sent_once_more(serve, send):
    service = serve(Canned(b"", close=True))
    response = send()
    assert response.status_code == 200
    assert json.loads(response.body) == {"connection": 2}
    assert service.seen == [
        (1, "GET /api/orders/ HTTP/1.1"),
        (2, "GET /api/orders/ HTTP/1.1"),
    ]


@pytest.mark.django_db
def test_a_post_closed_unanswered_is_502_and_not_sent_again(serve, send, connection):
    service = serve(Canned(b"", close=True))
    response = send("post", data=b"{}", content_type="application/json")
    assert response.status_code == 502
    assert response.json() == BAD_GATEWAY
    assert service.seen == [(1, "POST /api/orders/ HTTP/1.1")]
    assert connection() == 2


@pytest.mark.django_db
def test_an_idle_connection_the_service_closed_is_not_used(serve, send):
    """A POST is not sent again after a failure, so it must not be sent on a
    pooled connection the service has closed (``Connection.dropped``)."""
    service = serve(Canned(OK, close=True))
    assert send().status_code == 200
    service.hung_up.acquire(timeout=5)  # its FIN is in
    response = send("post", data=b"{}", content_type="application/json")
    assert response.status_code == 200
    assert json.loads(response.body) == {"connection": 2}
    assert service.seen == [
        (1, "GET /api/orders/ HTTP/1.1"),
        (2, "POST /api/orders/ HTTP/1.1"),
    ]


# -- requests the gateway cannot forward -------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize(
    "header",
    [
        {"X-Note": "a\r\nX-Injected: 1"},
        {"X-Note": "a\nX-Injected: 1"},
        {"X-Note": "a\rb"},
        {"X-Note": "a\x00b"},
        {"X Note": "a"},  # not a header name
        {"X-Note:": "a"},
    ],
)
def test_a_request_header_that_cannot_be_forwarded_is_400(
    serve, send, connection, header
):
    service = serve()
    response = send(headers=header)
    assert response.status_code == 400
    assert response.json() == {
        "detail": "The request cannot be forwarded as sent.",
        "code": "bad_request",
    }
    assert service.connections == 0
    assert connection() == 1  # the slot came back


@pytest.mark.django_db
def test_a_query_string_that_cannot_be_sent_as_is_is_400(serve, send, connection):
    """Only a test client or a lax server puts a space in QUERY_STRING; it would
    end the request target early on the wire."""
    service = serve()
    response = send(QUERY_STRING="a=1 HTTP/1.1\r\nX: y")
    assert response.status_code == 400
    assert response.json()["code"] == "bad_request"
    assert service.connections == 0
    assert connection() == 1


# -- _parse_head -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        (b"HTTP/1.1 200 OK", (1, 200, "OK", [])),
        (b"HTTP/1.0 404 Not Found", (0, 404, "Not Found", [])),
        (b"HTTP/1.1 204", (1, 204, "", [])),
        (b"HTTP/1.1 200 ", (1, 200, "", [])),
        (b"HTTP/1.1 200 Tr\xe8s bien\tici", (1, 200, "Tr\xe8s bien\tici", [])),
        (
            b"HTTP/1.1 200 OK\r\nX-A:  a  \r\nx-b:",
            (1, 200, "OK", [("X-A", "a"), ("x-b", "")]),
        ),
    ],
)
def test_parse_head_status_reason_and_fields(raw, parsed):
    assert _parse_head(raw) == parsed


@pytest.mark.parametrize(
    ("raw", "fields"),
    [
        (
            b"X-A: one\r\n  two  \r\n\tthree\r\nX-B: b",
            [("X-A", "one two three"), ("X-B", "b")],
        ),
        (b"X-A:\r\n two", [("X-A", "two")]),
    ],
)
def test_parse_head_unfolds_obs_fold(raw, fields):
    assert _parse_head(b"HTTP/1.1 200 OK\r\n" + raw)[3] == fields
