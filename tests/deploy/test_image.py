"""The Dockerfile, read without a Docker engine, and the command the image runs."""

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import requests

from tests.deploy.conftest import PROJECTS, ROOT
from tests.deploy.dockerfile import image_env, instructions
from tests.deploy.processes import image_like_env, manage, serve

SECRET_NAME = re.compile(r"SECRET|PASSWORD|TOKEN|DATABASE_URL|PRIVATE", re.IGNORECASE)


def commands(name: str) -> list[str]:
    return [arguments for command, arguments in instructions() if command == name]


def test_slim_python_base_and_an_unprivileged_user():
    steps = [command for command, _ in instructions()]
    assert commands("FROM") == ["python:3.11-slim"]
    user = commands("USER")[-1].split(":")[0]
    assert user not in ("root", "0")
    assert steps.index("USER") < steps.index("ENTRYPOINT")
    assert "USER" not in steps[steps.index("USER") + 1 :]


def test_requirements_then_code_then_static_files():
    runs = commands("RUN")
    assert "pip install -r requirements-runtime.txt" in runs
    copies = commands("COPY")
    assert copies.index("requirements-runtime.txt .") < copies.index(". .")
    assert any("manage.py collectstatic --noinput" in run for run in runs)
    assert image_env()["DJANGO_STATIC_ROOT"].startswith("/app/")


def test_no_secret_is_baked_into_the_image():
    for command in ("ENV", "ARG", "LABEL"):
        for arguments in commands(command):
            assert not SECRET_NAME.search(arguments), arguments
    # The build-only key exists for collectstatic alone, and the keys directory
    # a settings import may create is removed in the same layer.
    for run in commands("RUN"):
        if "DJANGO_SECRET_KEY" in run:
            assert "collectstatic" in run and "rm -rf /tmp/build" in run
    ignored = (ROOT / ".dockerignore").read_text().split()
    for entry in (".git", ".venv", "var", "*.pem", "*.key", ".env"):
        assert entry in ignored


def test_the_entrypoint_exists_and_the_default_command_is_a_project():
    (entrypoint,) = json.loads(commands("ENTRYPOINT")[0])
    workdir = commands("WORKDIR")[-1]
    script = ROOT / Path(entrypoint).relative_to(workdir)
    assert os.access(script, os.X_OK)
    assert json.loads(commands("CMD")[0])[0] in PROJECTS


def entrypoint(
    args: list[str], env: dict[str, str], **kwargs
) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["sh", "deploy/entrypoint.sh", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        **kwargs,
    )


@pytest.mark.parametrize("project", PROJECTS)
def test_the_entrypoint_loads_each_project_under_gunicorn(project, tmp_path):
    # --check-config makes gunicorn load the configuration and the WSGI app.
    env = {**image_like_env(project, tmp_path), "GATEWAY_SERVER": "gunicorn"}
    result = entrypoint([project, "--check-config"], env)
    assert result.returncode == 0, result.stderr


def test_the_gateway_refuses_an_internal_listener_under_gunicorn(tmp_path):
    """A second gunicorn bind would share the workers' threads: refused."""
    env = {
        **image_like_env("gateway", tmp_path),
        "GATEWAY_SERVER": "gunicorn",
        "GATEWAY_INTERNAL_BIND": "0.0.0.0:8090",
    }
    result = entrypoint(["gateway", "--check-config"], env)
    assert result.returncode == 1
    assert "GATEWAY_INTERNAL_BIND needs the gateway under granian" in result.stderr


def test_the_gateway_runs_under_granian_and_takes_no_gunicorn_options(tmp_path):
    result = entrypoint(
        ["gateway", "--check-config"], image_like_env("gateway", tmp_path)
    )
    assert result.returncode == 64
    assert "GATEWAY_SERVER=gunicorn" in result.stderr


def test_the_gateway_image_serves_under_granian(tmp_path):
    env = {**image_like_env("gateway", tmp_path), "DJANGO_HTTPS": "0"}
    manage("migrate", env)
    with serve("gateway", env) as base:
        response = requests.get(f"{base}/healthz", timeout=5)
    assert response.status_code == 200
    assert response.headers["Server"] == "gateway"  # granian's banner replaced


def test_the_project_can_come_from_the_environment(tmp_path):
    env = {**image_like_env("customers", tmp_path), "PROJECT": "customers"}
    result = entrypoint(["--print-config"], env)
    assert result.returncode == 0, result.stderr
    assert "customers_service.wsgi:application" in result.stdout


def test_an_unknown_project_is_refused(tmp_path):
    result = entrypoint(["billing"], image_like_env("gateway", tmp_path))
    assert result.returncode == 64
    assert "usage: entrypoint.sh gateway|orders|customers" in result.stderr


def test_the_image_serves_its_collected_static_files(tmp_path):
    """collectstatic as at build, then the entrypoint serves hashed, cached files."""
    # Plain http here, no TLS-terminating proxy in front.
    env = {**image_like_env("orders", tmp_path), "DJANGO_HTTPS": "0"}
    manage("collectstatic", env)
    manifest = json.loads((tmp_path / "static" / "staticfiles.json").read_text())
    hashed = manifest["paths"]["admin/css/base.css"]
    with serve("orders", env) as base:
        response = requests.get(f"{base}/static/{hashed}", timeout=5)
        gzipped = requests.get(
            f"{base}/static/{hashed}", headers={"Accept-Encoding": "gzip"}, timeout=5
        )
    assert response.status_code == 200
    assert "immutable" in response.headers["Cache-Control"]
    assert b"body" in response.content
    assert gzipped.headers["Content-Encoding"] == "gzip"


def test_the_image_installs_no_test_tooling():
    runtime = (ROOT / "requirements-runtime.txt").read_text().lower()
    for tool in ("pytest", "ruff", "playwright", "kubernetes-validate", "py-spy"):
        assert tool not in runtime
    assert "-r requirements-runtime.txt" in (ROOT / "requirements.txt").read_text()


def test_the_image_ships_no_tests_and_no_local_tooling():
    """The suites, their shared helpers, the bench, the chaos run and the stack
    they all start (devstack) stay out of the build context."""
    ignored = (ROOT / ".dockerignore").read_text().split()
    for entry in ("tests", "bench", "chaos", "devstack"):
        assert entry in ignored
