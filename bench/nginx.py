"""nginx as a plain reverse proxy in front of one upstream: the bench's floor.

It runs in the foreground (``daemon off``) from a config written to a temporary
directory, on a free port, and is stopped by ``stop()``; no system service is
involved.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import requests

CONFIG = """\
daemon off;
worker_processes {workers};
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    upstream app {{
        server {upstream};
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }}
    }}
}}
"""


def render_config(root: Path, port: int, upstream: str, workers: int = 2) -> str:
    """Return an nginx.conf proxying 127.0.0.1:``port`` to ``upstream`` (host:port)."""
    return CONFIG.format(root=root, port=port, upstream=upstream, workers=workers)


class Nginx:
    """An nginx process proxying ``127.0.0.1:port`` to ``upstream``."""

    def __init__(self, root: Path, port: int, upstream: str) -> None:
        self.root, self.port, self.upstream = root, port, upstream
        self.process: subprocess.Popen | None = None

    @staticmethod
    def available() -> str | None:
        """Return the nginx binary's path, or None when nginx is not installed."""
        return shutil.which("nginx") or (
            "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, health_path: str = "/healthz", timeout: float = 10.0) -> None:
        """Write the config, start nginx and wait until it answers ``health_path``."""
        binary = self.available()
        if binary is None:
            raise RuntimeError("nginx is not installed")
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)  # workers run as nobody when started by root
        config = self.root / "nginx.conf"
        config.write_text(render_config(self.root, self.port, self.upstream))
        log = open(self.root / "stderr.log", "wb")  # noqa: SIM115 - owned by nginx
        self.process = subprocess.Popen(
            [
                binary,
                "-p",
                str(self.root),
                "-e",
                str(self.root / "error.log"),
                "-c",
                str(config),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if requests.get(self.url + health_path, timeout=1).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(
            "nginx did not start:\n" + (self.root / "stderr.log").read_text()
        )

    def stop(self) -> None:
        """Stop nginx (graceful quit, then kill) if it runs."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
