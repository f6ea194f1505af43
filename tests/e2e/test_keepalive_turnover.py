"""The gateway under granian closes a keep-alive connection now and then
(``common.serve.KEEPALIVE_REQUESTS``), so that connections a burst put on one
worker spread out again when their clients reconnect."""

import socket

from common.serve import KEEPALIVE_REQUESTS
from devstack.stack import Stack

REQUEST = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def _answers_until_closed(port: int, most: int) -> list[bytes]:
    """Return the answer heads one keep-alive connection got before the gateway
    closed it (at most ``most``)."""
    heads = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        reader = sock.makefile("rb")
        for _ in range(most):
            sock.sendall(REQUEST)
            head = b""
            while (line := reader.readline()) not in (b"\r\n", b""):
                head += line.lower()
            if not head:
                break  # closed before answering: not expected
            length = int(head.split(b"content-length: ")[1].split(b"\r\n")[0])
            reader.read(length)
            heads.append(head)
            if b"connection: close" in head:
                assert reader.read() == b""  # and it did close
                break
    return heads


def test_a_keep_alive_connection_is_closed_after_some_answers(stack: Stack):
    port = int(stack.url("gateway").rsplit(":", 1)[1])
    heads = _answers_until_closed(port, 2 * KEEPALIVE_REQUESTS)
    # Other connections count in the same worker: at most KEEPALIVE_REQUESTS.
    assert 1 <= len(heads) <= KEEPALIVE_REQUESTS
    assert b"connection: close" in heads[-1]
    assert all(b"connection: close" not in head for head in heads[:-1])
    assert all(head.startswith(b"http/1.1 200") for head in heads)
