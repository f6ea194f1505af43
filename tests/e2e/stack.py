"""A real stack for end-to-end tests: three gunicorn processes on free ports.

Each stack gets its own temporary directory (keys, logs, SQLite files) or its own
temporary PostgreSQL databases, created here and dropped by ``close()``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
PROJECTS = {
    "gateway": "gateway_project",
    "orders": "orders_service",
    "customers": "customers_service",
}
DB_ENV = {
    "gateway": "GATEWAY_DATABASE_URL",
    "orders": "ORDERS_DATABASE_URL",
    "customers": "CUSTOMERS_DATABASE_URL",
}
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


def _postgres(sql: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(sql)


@dataclass
class Stack:
    """Gateway, orders and customers as real gunicorn processes.

    ``url(name)`` gives a project's base URL; ``stop(name)`` and ``start(name)``
    take one down and bring it back on the same port (for fault tests).
    """

    workdir: Path
    database: str = "sqlite"
    extra_env: dict[str, str] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.ports = self.ports or {name: free_port() for name in PROJECTS}
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
            JWT_ISSUER=self.url("gateway"),
            JWT_SIGNING_KEYS_DIR=str(self.workdir / "keys"),
            ORDERS_SERVICE_URL=self.url("orders"),
            CUSTOMERS_SERVICE_URL=self.url("customers"),
            PYTHONUNBUFFERED="1",
            # The revocation feed's credential, shared by the gateway and services.
            REVOCATION_FEED_TOKEN="e2e-feed-" + uuid.uuid4().hex,
        )
        for name in PROJECTS:
            env[DB_ENV[name]] = self._database_url(name)
        env.update(self.extra_env)
        return env

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def manage(self, name: str, *args: str, **env: str) -> str:
        """Run ``manage.py`` under project ``name``'s settings; return its stdout."""
        result = subprocess.run(
            [
                sys.executable,
                "manage.py",
                *args,
                f"--settings={PROJECTS[name]}.settings",
            ],
            cwd=ROOT,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=120,
        )
        if result.returncode:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr}")
        return result.stdout

    def setup(self) -> Stack:
        """Create the databases, migrate them, seed the demo users, start all three."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.database == "postgres":
            for name in PROJECTS:
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
                cwd=ROOT,
                env=self.env,
            )
            for module in PROJECTS.values()
        ]
        if any(proc.wait(timeout=180) for proc in migrations):
            raise RuntimeError("migrate failed")
        self.manage("gateway", "seed_demo", DJANGO_DEBUG="1")
        for name in PROJECTS:
            self.start(name, wait=False)
        for name in PROJECTS:
            self.wait_healthy(name)
        return self

    # -- processes -----------------------------------------------------------
    def log_path(self, name: str) -> Path:
        return self.workdir / f"{name}.log"

    def start(self, name: str, wait: bool = True) -> None:
        """Start project ``name`` under gunicorn on its port."""
        module = PROJECTS[name]
        log = open(self.log_path(name), "ab")  # noqa: SIM115 - owned by the process
        self.processes[name] = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                f"{module}/gunicorn.conf.py",
                "--bind",
                f"127.0.0.1:{self.ports[name]}",
                "--workers",
                self.env.get("E2E_WORKERS", "1"),
                "--threads",
                self.env.get("E2E_THREADS", "8"),
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        if wait:
            self.wait_healthy(name)

    def wait_healthy(self, name: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.processes[name].poll() is not None:
                break
            try:
                if requests.get(f"{self.url(name)}/healthz", timeout=1).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{name} did not start:\n{self.log_path(name).read_text()}")

    def stop(self, name: str) -> None:
        """Stop project ``name`` (its port then refuses connections)."""
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
            for name in PROJECTS:
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
