"""common.serve: what the gateway's WSGI application gets and answers under
granian (the server itself runs in tests/e2e and tests/deploy)."""

import os

import pytest

from common.serve import SERVER_HEADER, _bind, served


def _call(app, environ):
    started = {}

    def start_response(status, headers, exc_info=None):
        started.update(status=status, headers=headers)

    body = b"".join(app(environ, start_response))
    return started, body


def _recording():
    """Return an application recording the environ it gets, and that record."""
    seen = {}

    def app(environ, start_response):
        seen.update(environ)
        start_response("200 OK", [])
        return [b""]

    return app, seen


def test_the_process_environment_is_taken_out_of_the_request(monkeypatch):
    monkeypatch.setenv("DJANGO_SECRET_KEY", "s3cret")
    monkeypatch.setenv("HTTP_PROXY", "http://corp-proxy:3128")
    app, seen = _recording()
    # granian's environ: a copy of the process environment, then the request's.
    environ = {**os.environ, "REQUEST_METHOD": "GET", "HTTP_ACCEPT": "*/*"}
    _call(served(app), environ)
    assert "DJANGO_SECRET_KEY" not in seen
    assert "HTTP_PROXY" not in seen  # not a header the client sent
    assert seen["HTTP_ACCEPT"] == "*/*"
    assert seen["REQUEST_METHOD"] == "GET"


def test_a_header_the_client_sent_stays_even_under_an_environment_name(monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://corp-proxy:3128")
    app, seen = _recording()
    _call(served(app), {**os.environ, "HTTP_PROXY": "http://client-sent"})
    assert seen["HTTP_PROXY"] == "http://client-sent"


def test_every_answer_names_the_gateway_not_the_server():
    def app(environ, start_response):
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"no"]

    started, body = _call(served(app), {})
    assert started["status"] == "404 Not Found"
    assert started["headers"] == [("Content-Type", "text/plain"), SERVER_HEADER]
    assert SERVER_HEADER == ("Server", "gateway")
    assert body == b"no"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1:8000", ("127.0.0.1", 8000)),
        ("0.0.0.0:9000", ("0.0.0.0", 9000)),
        ("[::]:8000", ("::", 8000)),
        (":8000", ("127.0.0.1", 8000)),
    ],
)
def test_the_bind_address_is_host_and_port(value, expected):
    assert _bind(value) == expected


def _answering(mark_logged: bool):
    def app(environ, start_response):
        if mark_logged:
            environ["proxy.logged"] = True
        start_response("200 OK", [("Content-Length", "2"), ("X-Request-ID", "r1")])
        return [b"{}"]

    return app


def test_a_request_the_application_did_not_log_gets_an_access_line(caplog):
    caplog.set_level("INFO", logger="common.serve.access")
    environ = {
        "REMOTE_ADDR": "10.0.0.7",
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/.well-known/jwks.json",
        "QUERY_STRING": "a=1",
        "SERVER_PROTOCOL": "HTTP/1.1",
    }
    _call(served(_answering(False), logged_key="proxy.logged"), environ)
    (line,) = [
        r.getMessage() for r in caplog.records if r.name == "common.serve.access"
    ]
    assert line.startswith('10.0.0.7 "GET /.well-known/jwks.json?a=1 HTTP/1.1" 200 2 ')
    assert line.endswith("ms rid=r1")


def test_a_request_the_proxy_logged_gets_no_second_line(caplog):
    caplog.set_level("INFO", logger="common.serve.access")
    _call(served(_answering(True), logged_key="proxy.logged"), {"PATH_INFO": "/api/"})
    assert not [r for r in caplog.records if r.name == "common.serve.access"]
