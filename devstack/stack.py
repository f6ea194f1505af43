"""The real stack: one server per project (``serve``), on free ports.

Each stack gets its own temporary directory (keys, logs, SQLite files) or its own
temporary PostgreSQL databases, created here and dropped by ``close()``.
"""

from __future__ import annotations

import os
import runpy
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]


def projects_of(root: Path) -> dict[str, str]:
    """Return ``{name: package}``: the gateway and the services of ``root``.

    The services are those of ``root``'s ``common/services.py`` (a copy of the
    repository may have more, see ``startservice``).
    """
    services = runpy.run_path(str(root / "common" / "services.py"))["SERVICES"]
    return {
        "gateway": "gateway_project",
        **{name: f"{name}_service" for name in services},
    }


def database_env(name: str) -> str:
    """Return the variable holding project ``name``'s database URL."""
    return f"{name.upper()}_DATABASE_URL"


PROJECTS = projects_of(ROOT)
# common.serve's option marking a gateway's internal listener (not imported:
# common.serve patches gunicorn on import).
INTERNAL_OPTION = "--internal-of"
POSTGRES_ADMIN_DSN = os.environ.get(
    "E2E_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
PASSWORDS = {
    "alice": "alice-demo-pass",
    "bob": "bob-demo-pass",
    "admin": "admin-demo-pass",
}


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gunicorn(
    module: str,
    bind: str,
    *,
    env: dict[str, str],
    log_path: Path,
    workers: str = "1",
    threads: str | None = "8",
    root: Path = ROOT,
) -> subprocess.Popen:
    """Start project ``module``'s gunicorn (its ``gunicorn.conf.py``) on ``bind``.

    It runs in its own session (``os.killpg`` stops it with its workers) and
    appends its output to ``log_path``. ``threads=None`` keeps the conf's.
    """
    command = [
        sys.executable,
        *("-m", "gunicorn", "-c", f"{module}/gunicorn.conf.py"),
        *("--bind", bind, "--workers", workers),
    ]
    if threads is not None:
        command += ["--threads", threads]
    return _start(command, env=env, log_path=log_path, root=root)


def _start(
    command: list[str], *, env: dict[str, str], log_path: Path, root: Path
) -> subprocess.Popen:
    """Run ``command`` in ``root``, in its own session, appending to ``log_path``."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            command,
            cwd=root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def serve(
    module: str,
    bind: str,
    *,
    env: dict[str, str],
    log_path: Path,
    workers: str = "1",
    threads: str = "8",
    root: Path = ROOT,
) -> subprocess.Popen:
    """Start project ``module`` on ``bind`` as production does (``common.serve``:
    the gateway under granian, the services under gunicorn).

    Like ``gunicorn()``: its own session, output appended to ``log_path``.
    """
    env = {
        **env,
        "GUNICORN_BIND": bind,
        "WEB_CONCURRENCY": workers,
        "GUNICORN_THREADS": threads,
    }
    command = [sys.executable, "-m", "common.serve", module]
    return _start(command, env=env, log_path=log_path, root=root)


def answers_healthz(url: str, process: subprocess.Popen, timeout: float = 30.0) -> bool:
    """Return True once ``url``/healthz answers 200; False if ``process`` exits
    or ``timeout`` seconds pass first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            if requests.get(f"{url}/healthz", timeout=1).ok:
                return True
        except requests.RequestException:
            pass
        time.sleep(0.1)
    return False


def _postgres(sql: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(sql)


def is_internal_listener(pid: int) -> bool:
    """Return True if process ``pid`` is a gateway's internal listener (its
    command line holds ``common.serve``'s ``--internal-of``), not a worker."""
    try:
        arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return INTERNAL_OPTION.encode() in arguments


@dataclass
class Stack:
    """The gateway and the services as real gunicorn processes.

    ``url(name)`` gives a project's base URL; ``stop(name)`` and ``start(name)``
    take one down and bring it back on the same port (for fault tests).
    ``root`` is the repository to run (default: this one) and ``projects`` its
    ``{name: package}`` (default: ``projects_of(root)``). The gateway serves
    the services' calls on an internal listener of its own, at
    ``internal_port`` (``GATEWAY_INTERNAL_BIND``, ``GATEWAY_INTERNAL_URL``).
    """

    workdir: Path
    database: str = "sqlite"
    extra_env: dict[str, str] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    root: Path = ROOT
    projects: dict[str, str] = field(default_factory=dict)
    internal_port: int = 0

    def __post_init__(self) -> None:
        self.projects = self.projects or projects_of(self.root)
        self.ports = self.ports or {name: free_port() for name in self.projects}
        self.internal_port = self.internal_port or free_port()
        self.tag = f"e2e_{uuid.uuid4().hex[:8]}"
        self.env = self._environment()

    # -- setup -----------------------------------------------------------------
    def _database_url(self, name: str) -> str:
        if self.database == "postgres":
            return f"postgresql://postgres@127.0.0.1:5432/{self.tag}_{name}"
        return f"sqlite:///{self.workdir / f'{name}.sqlite3'}"

    def _environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
        env.pop("REDIS_URL", None)
        env.update(
            VAR_DIR=str(self.workdir),
            DJANGO_SECRET_KEY="e2e-" + uuid.uuid4().hex * 2,
            DJANGO_DEBUG="0",
            DJANGO_HTTPS="0",  # plain http: no redirect to https, no Secure cookies
            JWT_ISSUER=self.url("gateway"),
            GATEWAY_INTERNAL_URL=self.internal_url,
            JWT_SIGNING_KEYS_DIR=str(self.workdir / "keys"),
            PYTHONUNBUFFERED="1",
            # The revocation feed's credential, shared by the gateway and services.
            REVOCATION_FEED_TOKEN="e2e-feed-" + uuid.uuid4().hex,
        )
        for name in self.projects:
            env[database_env(name)] = self._database_url(name)
            if name != "gateway":
                env[f"{name.upper()}_SERVICE_URL"] = self.url(name)
        env.update(self.extra_env)
        return env

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    @property
    def internal_url(self) -> str:
        """Return the base URL of the gateway's internal listener."""
        return f"http://127.0.0.1:{self.internal_port}"

    def internal_bind(self) -> str:
        """Return the gateway's ``GATEWAY_INTERNAL_BIND`` (``extra_env`` may set
        it, empty for no internal listener)."""
        return self.env.get("GATEWAY_INTERNAL_BIND", f"127.0.0.1:{self.internal_port}")

    def manage(self, name: str, *args: str, **env: str) -> str:
        """Run ``manage.py`` under project ``name``'s settings; return its stdout."""
        result = subprocess.run(
            [
                sys.executable,
                "manage.py",
                *args,
                f"--settings={self.projects[name]}.settings",
            ],
            cwd=self.root,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=120,
        )
        if result.returncode:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr}")
        return result.stdout

    def setup(self) -> Stack:
        """Create the databases, migrate them, seed the demo users, start them all."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.database == "postgres":
            for name in self.projects:
                _postgres(f'CREATE DATABASE "{self.tag}_{name}"')
        migrations = [
            subprocess.Popen(
                [
                    sys.executable,
                    "manage.py",
                    "migrate",
                    "--noinput",
                    "-v",
                    "0",
                    f"--settings={module}.settings",
                ],
                cwd=self.root,
                env=self.env,
            )
            for module in self.projects.values()
        ]
        if any(proc.wait(timeout=180) for proc in migrations):
            raise RuntimeError("migrate failed")
        self.manage("gateway", "seed_demo", DJANGO_DEBUG="1")
        for name in self.projects:
            self.start(name, wait=False)
        for name in self.projects:
            self.wait_healthy(name)
        return self

    # -- processes -----------------------------------------------------------
    def log_path(self, name: str) -> Path:
        return self.workdir / f"{name}.log"

    def start(self, name: str, wait: bool = True) -> None:
        """Start project ``name`` under its server (``serve``) on its port, the
        gateway with its internal listener (``internal_bind()``)."""
        env = self.env
        if name == "gateway":
            env = {**env, "GATEWAY_INTERNAL_BIND": self.internal_bind()}
        self.processes[name] = serve(
            self.projects[name],
            f"127.0.0.1:{self.ports[name]}",
            env=env,
            log_path=self.log_path(name),
            workers=self.env.get("E2E_WORKERS", "1"),
            threads=self.env.get("E2E_THREADS", "8"),
            root=self.root,
        )
        if wait:
            self.wait_healthy(name)

    def wait_healthy(self, name: str, timeout: float = 30.0) -> None:
        """Wait until project ``name`` (and the gateway's internal listener)
        answers ``/healthz``; raise ``RuntimeError`` with its log if it does not."""
        urls = [self.url(name)]
        if name == "gateway" and self.internal_bind():
            urls.append(self.internal_url)
        if all(answers_healthz(url, self.processes[name], timeout) for url in urls):
            return
        raise RuntimeError(f"{name} did not start:\n{self.log_path(name).read_text()}")

    def stop(self, name: str) -> None:
        """Stop project ``name`` (its port then refuses connections; the
        gateway's server stops its internal listener before it exits)."""
        proc = self.processes.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def close(self) -> None:
        for name in list(self.processes):
            self.stop(name)
        if self.database == "postgres":
            for name in self.projects:
                _postgres(f'DROP DATABASE IF EXISTS "{self.tag}_{name}" WITH (FORCE)')

    # -- helpers -----------------------------------------------------------------
    def login(self, username: str, password: str | None = None) -> dict:
        """Return the gateway's ``{access, refresh}`` for ``username``."""
        response = requests.post(
            f"{self.url('gateway')}/auth/token/",
            json={"username": username, "password": password or PASSWORDS[username]},
            timeout=10,
        )
        response.raise_for_status()
        return response.json()
