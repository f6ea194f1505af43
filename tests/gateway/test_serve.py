"""common.serve: what the gateway's WSGI application gets and answers under
granian, and how its internal listener is started and stopped (the servers
themselves run in tests/e2e and tests/deploy)."""

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from common import serve
from common.draining import DRAIN_FILE_ENV
from common.serve import (
    INTERNAL_BIND_ENV,
    INTERNAL_LOG_CONFIG,
    INTERNAL_OPTION,
    KEEPALIVE_REQUESTS,
    SERVER_HEADER,
    _bind,
    served,
)
from devstack.stack import INTERNAL_OPTION as DEVSTACK_INTERNAL_OPTION


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


def test_every_nth_answer_of_a_worker_closes_its_connection():
    app, _ = _recording()
    wrapped = served(app)
    closing = [
        n
        for n in range(1, 3 * KEEPALIVE_REQUESTS + 1)
        if ("Connection", "close") in _call(wrapped, {})[0]["headers"]
    ]
    assert closing == [
        KEEPALIVE_REQUESTS,
        2 * KEEPALIVE_REQUESTS,
        3 * KEEPALIVE_REQUESTS,
    ]


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


# -- the internal listener (GATEWAY_INTERNAL_BIND) -----------------------------------
class FakeServer:
    """Records how it was made, served and stopped instead of serving."""

    made: list["FakeServer"] = []

    def __init__(self, target, **options):
        self.options = options
        self.served = False
        self.stopped = threading.Event()
        FakeServer.made.append(self)

    def serve(self):
        self.served = True
        self.during_serve = dict(os.environ)

    def signal_handler_interrupt(self, *args):
        self.stopped.set()


class FakeDrainingServer(FakeServer):
    internal_failed = draining = interrupt_signal = False


@pytest.fixture
def fake_servers(monkeypatch, tmp_path):
    """granian's servers and the metrics directory's preparation, recorded."""
    FakeServer.made = []
    prepared = []
    monkeypatch.setattr(serve, "Server", FakeServer)
    monkeypatch.setattr(serve, "DrainingServer", FakeDrainingServer)
    monkeypatch.setattr(serve, "prepare_metrics_dir", prepared.append)
    monkeypatch.setenv("GUNICORN_THREADS", "3")
    monkeypatch.setenv("WEB_CONCURRENCY", "4")
    monkeypatch.setenv("GUNICORN_GRACEFUL_TIMEOUT", "1")
    monkeypatch.setenv(DRAIN_FILE_ENV, str(tmp_path / "main-server" / "draining"))
    monkeypatch.delenv("GATEWAY_SERVER", raising=False)
    return prepared


def sleeper(*python: str) -> subprocess.Popen:
    """Return a child process running ``python`` (statements), then sleeping."""
    code = "; ".join([*python, "print('ready', flush=True)", "time.sleep(60)"])
    child = subprocess.Popen(
        [sys.executable, "-c", f"import signal, time; {code}"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout.readline() == "ready\n"
    return child


def test_without_an_internal_bind_there_is_one_server(fake_servers, monkeypatch):
    monkeypatch.delenv(INTERNAL_BIND_ENV, raising=False)
    monkeypatch.setattr(serve, "start_internal", pytest.fail)
    serve.main(["gateway_project", "--bind", "127.0.0.1:8123"])
    (server,) = FakeServer.made
    assert isinstance(server, FakeDrainingServer)
    assert (server.options["address"], server.options["port"]) == ("127.0.0.1", 8123)
    assert server.options["workers"] == 4
    assert server.options["log_dictconfig"] is None
    assert fake_servers == ["gateway_project"]


def test_the_internal_listener_binds_its_address_with_one_worker(
    fake_servers, monkeypatch
):
    monkeypatch.setenv(INTERNAL_BIND_ENV, "127.0.0.1:8124")
    main_drain_file = os.environ[DRAIN_FILE_ENV]
    not_my_parent = os.getppid() + 1  # so it stops at once, as if orphaned
    serve.main(["gateway_project", "--internal-of", str(not_my_parent)])
    (server,) = FakeServer.made
    assert type(server) is FakeServer  # no drain
    assert (server.options["address"], server.options["port"]) == ("127.0.0.1", 8124)
    assert server.options["workers"] == 1
    assert server.options["blocking_threads"] == 3  # GUNICORN_THREADS
    assert server.options["log_dictconfig"] == INTERNAL_LOG_CONFIG
    # The main server's metrics files stay (it writes into the same directory).
    assert fake_servers == []
    # A drain file of its own: the main server's draining is not its own.
    assert server.during_serve[DRAIN_FILE_ENV] != main_drain_file
    assert server.stopped.wait(5)


def test_the_internal_listener_needs_its_bind(fake_servers, monkeypatch):
    monkeypatch.delenv(INTERNAL_BIND_ENV, raising=False)
    with pytest.raises(SystemExit) as exit_:
        serve.main(["gateway_project", "--internal-of", "1"])
    assert exit_.value.code == 2
    assert not FakeServer.made


def test_the_internal_listener_is_this_module_again_as_a_child(monkeypatch):
    started = []
    monkeypatch.setattr(serve.subprocess, "Popen", started.append)
    serve.start_internal("gateway_project")
    assert started == [
        [
            sys.executable,
            *("-m", "common.serve", "gateway_project"),
            *(INTERNAL_OPTION, str(os.getpid())),
        ]
    ]
    assert INTERNAL_OPTION == DEVSTACK_INTERNAL_OPTION  # how devstack tells it


def test_the_main_server_stops_its_internal_listener_after_serving(
    fake_servers, monkeypatch
):
    monkeypatch.setenv(INTERNAL_BIND_ENV, "127.0.0.1:8125")
    internal = sleeper()
    monkeypatch.setattr(serve, "start_internal", lambda project: internal)
    serve.main(["gateway_project"])
    (server,) = FakeServer.made
    assert server.served
    assert fake_servers == ["gateway_project"]  # before the child inherits it
    assert internal.returncode == -signal.SIGTERM
    assert not server.stopped.is_set()  # its exit was expected: no error


def test_a_gateway_whose_internal_listener_exits_stops_with_status_1(
    fake_servers, monkeypatch
):
    monkeypatch.setenv(INTERNAL_BIND_ENV, "127.0.0.1:8126")
    internal = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])

    def serve_until_stopped(self):
        assert self.stopped.wait(10)

    monkeypatch.setattr(FakeDrainingServer, "serve", serve_until_stopped)
    monkeypatch.setattr(serve, "start_internal", lambda project: internal)
    with pytest.raises(SystemExit) as exit_:
        serve.main(["gateway_project"])
    assert exit_.value.code == 1
    assert internal.returncode == 3


def test_an_internal_listener_stopped_by_the_same_sigterm_is_no_failure():
    # A SIGTERM to the process group: the internal listener stops at once,
    # while the main server drains.
    server = FakeDrainingServer("app")
    server.draining = True
    internal = subprocess.Popen([sys.executable, "-c", "pass"])
    serve.stop_with_internal(server, internal, threading.Event())
    assert not server.stopped.is_set()
    assert not server.internal_failed


def test_an_internal_listener_deaf_to_sigterm_is_killed():
    internal = sleeper("signal.signal(signal.SIGTERM, signal.SIG_IGN)")
    started = time.monotonic()
    serve.stop_internal(internal, 0.5)
    assert internal.returncode == -signal.SIGKILL
    assert time.monotonic() - started >= 0.5


def test_the_internal_listener_stops_once_its_main_server_is_gone(monkeypatch):
    parents = iter([4242, 4242, 1])  # then reparented: 4242 is gone
    monkeypatch.setattr(serve.os, "getppid", lambda: next(parents))
    monkeypatch.setattr(serve, "ORPHAN_POLL_SECONDS", 0)
    server = FakeServer("app")
    serve.stop_when_orphaned(server, 4242)
    assert server.stopped.is_set()
    assert next(parents, None) is None  # it looked until the parent changed
