"""How gunicorn's workers share a port (common/gunicorn.py), on real gunicorn.

Each connection is traced to the worker process holding its server end through
/proc (the socket's inode in /proc/net/tcp, then the worker's file descriptors),
so nothing is added to the responses. Nothing here is timed.
"""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from devstack.stack import ROOT, free_port

TCP_LISTEN = "0A"


def children(pid: int) -> list[int]:
    """Return the pids of ``pid``'s child processes (gunicorn's workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def socket_inodes(pid: int) -> set[int]:
    """Return the inodes of the sockets process ``pid`` holds open."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[len("socket:[") : -1]))
    return inodes


def tcp_table() -> list[tuple[int, int, str, int]]:
    """Return ``(local port, remote port, state, inode)`` of every IPv4 socket."""
    rows = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = fields[1], fields[2]
        rows.append(
            (
                int(local.rsplit(":", 1)[1], 16),
                int(remote.rsplit(":", 1)[1], 16),
                fields[3],
                int(fields[9]),
            )
        )
    return rows


class Server:
    """One project under gunicorn with its own gunicorn.conf.py, 2 workers."""

    def __init__(self, workdir: Path, port: int, **env: str) -> None:
        self.port = port
        self.log = workdir / f"gunicorn-{port}-{time.monotonic_ns()}.log"
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "-c",
                    "orders_service/gunicorn.conf.py",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--workers",
                    "2",
                    "--threads",
                    "4",
                ],
                cwd=ROOT,
                env={
                    **os.environ,
                    "VAR_DIR": str(workdir),
                    "ORDERS_DATABASE_URL": f"sqlite:///{workdir / 'orders.sqlite3'}",
                    "DJANGO_DEBUG": "0",
                    "DJANGO_HTTPS": "0",
                    "GUNICORN_ACCESSLOG": "/dev/null",
                    **env,
                },
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait until both workers poll the listening socket (their app loaded)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            workers = self.workers()
            if (
                len(workers) == 2
                and all(self.polls_listener(pid) for pid in workers)
                and self.get("/healthz")
            ):
                return
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not start:\n{self.log.read_text()}")

    def polls_listener(self, pid: int) -> bool:
        """Return True if worker ``pid``'s poller watches the listening socket.

        A worker registers it once its application is loaded; before that,
        the other worker would take every connection.
        """
        listeners = {
            inode
            for port, _, state, inode in tcp_table()
            if port == self.port and state == TCP_LISTEN
        }
        fds = {}
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                fds[fd.name] = os.readlink(fd)
            except OSError:
                continue
        listening = {
            name
            for name, target in fds.items()
            if target in {f"socket:[{inode}]" for inode in listeners}
        }
        for name, target in fds.items():
            if target == "anon_inode:[eventpoll]":
                try:
                    info = Path(f"/proc/{pid}/fdinfo/{name}").read_text()
                except OSError:
                    continue
                watched = {
                    line.split()[1]
                    for line in info.splitlines()
                    if line.startswith("tfd:")
                }
                if watched & listening:
                    return True
        return False

    def get(self, path: str) -> bool:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            conn.request("GET", path)
            ok = conn.getresponse().status == 200
            conn.close()
            return ok
        except OSError:
            return False

    def workers(self) -> list[int]:
        return children(self.process.pid)

    def owners(self) -> dict[int, int]:
        """Return ``{socket inode: worker pid}`` for every worker's sockets."""
        return {inode: pid for pid in self.workers() for inode in socket_inodes(pid)}

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait()


@contextmanager
def serving(tmp_path: Path, port: int | None = None, **env: str) -> Iterator[Server]:
    server = Server(tmp_path, port or free_port(), **env)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def held_by_worker(server: Server, conns: list[http.client.HTTPConnection]) -> Counter:
    """Return how many of ``conns`` each worker pid holds (None: not accepted)."""
    server_ends = {
        remote: inode
        for port, remote, state, inode in tcp_table()
        if port == server.port and state != TCP_LISTEN
    }
    owners = server.owners()
    return Counter(
        owners.get(server_ends.get(conn.sock.getsockname()[1])) for conn in conns
    )


def test_a_burst_of_keepalive_connections_spreads_over_both_workers(tmp_path):
    """wrk opens its 16 connections at once and keeps them: with gunicorn's
    gthread worker, one worker took 13 to 16 of them (six tries out of six)."""
    with serving(tmp_path) as server:
        conns = [
            http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            for _ in range(16)
        ]
        for conn in conns:
            conn.connect()
        for conn in conns:  # keep-alive: each connection stays with its worker
            conn.request("GET", "/healthz")
            response = conn.getresponse()
            response.read()
            assert response.status == 200
            assert not response.will_close
        held = held_by_worker(server, conns)
        workers = set(server.workers())
        for conn in conns:
            conn.close()
    assert set(held) == workers, held
    assert max(held.values()) <= 12, held


def test_a_worker_takes_no_more_connections_than_it_has_threads(tmp_path):
    """Eight connections that send nothing yet hold a thread each (gunicorn
    waits for the request in a thread): four threads per worker, four each."""
    with serving(tmp_path) as server:
        conns = [
            http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            for _ in range(8)
        ]
        for conn in conns:
            conn.connect()
        deadline = time.monotonic() + 3
        while None in (held := held_by_worker(server, conns)):
            assert time.monotonic() < deadline, held
            time.sleep(0.05)
        assert sorted(held.values()) == [4, 4], held
        for conn in conns:
            conn.request("GET", "/healthz")
            assert conn.getresponse().status == 200
            conn.close()


def test_a_recycled_worker_drops_no_connection(tmp_path):
    """Workers leaving after GUNICORN_MAX_REQUESTS (their accept switched off
    for good) leave every new connection to the others or to their successors."""
    with serving(tmp_path, GUNICORN_MAX_REQUESTS="30") as server:
        first_workers = set(server.workers())
        failures: list[str] = []
        answered = Counter()

        def client() -> None:
            for _ in range(40):
                try:
                    conn = http.client.HTTPConnection(
                        "127.0.0.1", server.port, timeout=10
                    )
                    conn.request("GET", "/healthz", headers={"Connection": "close"})
                    answered[conn.getresponse().status] += 1
                    conn.close()
                except (OSError, http.client.HTTPException) as exc:
                    failures.append(repr(exc))

        threads = [threading.Thread(target=client) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        recycled = first_workers - set(server.workers())
    assert recycled, "no worker was recycled"
    assert failures == []
    assert answered == {200: 160}
