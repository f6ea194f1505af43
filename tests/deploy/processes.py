"""The environment a pod gets, and the image's command run as a real process."""

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from devstack.stack import free_port
from tests.deploy.conftest import ROOT
from tests.deploy.dockerfile import image_env
from tests.deploy.pods import literal_env, secret_env, web

# One stand-in per key of a Secret, shared by every project that reads it.
_SECRET_KEY_STAND_INS: dict[tuple[str, str], str] = {}


def stand_ins(project: str, tmp_path: Path) -> dict[str, str]:
    """Return temporary stand-ins for the Secrets and the image's paths."""
    return {
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        f"{project.upper()}_DATABASE_URL": f"sqlite:///{tmp_path}/{project}.sqlite3",
        "VAR_DIR": str(tmp_path / "var"),
        "DJANGO_STATIC_ROOT": str(tmp_path / "static"),
        "JWT_SIGNING_KEYS_DIR": str(tmp_path / "keys"),
    }


def image_like_env(project: str, tmp_path: Path) -> dict[str, str]:
    """Return the image's environment, this virtualenv first on ``PATH``."""
    venv_bin = str(Path(sys.executable).parent)
    return {
        **image_env(),
        "PATH": f"{venv_bin}:{os.environ['PATH']}",
        **stand_ins(project, tmp_path),
    }


def secret_key_stand_ins(container: dict) -> dict[str, str]:
    """Return a stand-in for each variable the container reads from a Secret's key.

    The same key of the same Secret gets the same value in every project.
    """
    return {
        name: _SECRET_KEY_STAND_INS.setdefault(ref, secrets.token_urlsafe(32))
        for name, ref in secret_env(container).items()
    }


def production_env(by_kind, config, project: str, tmp_path: Path) -> dict[str, str]:
    """Return the environment of ``project``'s web container in the cluster."""
    container = web(by_kind, project)
    return {
        **image_like_env(project, tmp_path),
        **config,
        **literal_env(container),
        **secret_key_stand_ins(container),
        **stand_ins(project, tmp_path),
    }


def manage(command: str, env: dict[str, str]) -> None:
    """Run ``manage.py <command> --noinput`` with ``env`` (as a Job or the build)."""
    subprocess.run(
        [sys.executable, "manage.py", command, "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=120,
    )


@contextmanager
def serve(
    project: str, env: dict[str, str], internal_port: int | None = None
) -> Iterator[str]:
    """Run the image's entrypoint for ``project`` on a free port; yield its URL.

    The gateway's internal listener, if ``env`` has one (the pod's 0.0.0.0:8090),
    listens on 127.0.0.1, on ``internal_port`` or a free one.
    """
    port = free_port()
    env = {**env, "GUNICORN_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "1"}
    internal = ""
    if env.get("GATEWAY_INTERNAL_BIND"):
        internal = f"127.0.0.1:{internal_port or free_port()}"
        env["GATEWAY_INTERNAL_BIND"] = internal
    server = subprocess.Popen(
        ["sh", "deploy/entrypoint.sh", project],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_listening(base, server)
        if internal:
            _wait_until_listening(f"http://{internal}", server)
        yield base
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=15)


def _wait_until_listening(base: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("the server exited")
        try:
            requests.get(f"{base}/", timeout=5)
            return
        except requests.ConnectionError:  # not listening yet
            time.sleep(0.1)
        except requests.Timeout:  # listening, the worker still loading the app
            continue
    raise RuntimeError("the server did not start")
