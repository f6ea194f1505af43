"""``manage.py startservice`` end to end, in a copy of the repository.

The copy (the working tree without ``.venv``, ``var`` or ``.git``) gets a new
service; its own suite and lint pass; its stack (the gateway, orders, customers
and the new service, under gunicorn) starts, and a login token reaches the new
service through the gateway.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from devstack.stack import ROOT, Stack

NAME = "inventory"
IGNORED = shutil.ignore_patterns(
    ".venv", "var", ".git", "__pycache__", "*.egg-info", ".pytest_cache", ".ruff_cache"
)


def _run(root: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        args, cwd=root, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def copy(tmp_path_factory) -> Path:
    """A copy of the repository with the new service added."""
    root = tmp_path_factory.mktemp("repo") / "repo"
    shutil.copytree(ROOT, root, ignore=IGNORED)
    env = {"PATH": "/usr/bin:/bin", "VAR_DIR": str(root / "var")}
    result = _run(root, sys.executable, "manage.py", "startservice", NAME, env=env)
    assert result.returncode == 0, result.stderr
    assert f"Created {NAME}_service" in result.stdout
    return root


@pytest.fixture(scope="module")
def stack(copy: Path, tmp_path_factory) -> Iterator[Stack]:
    running = Stack(tmp_path_factory.mktemp("startservice-stack"), root=copy)
    try:
        yield running.setup()
    finally:
        running.close()


def test_a_bad_name_is_refused_with_a_clear_message(copy: Path):
    env = {"PATH": "/usr/bin:/bin", "VAR_DIR": str(copy / "var")}
    for name, message in (
        ("In-ventory", "is not a valid service name"),
        (NAME, "already exists"),
        ("gateway", "collides"),
    ):
        result = _run(copy, sys.executable, "manage.py", "startservice", name, env=env)
        assert result.returncode == 1
        assert message in result.stderr
        assert "Traceback" not in result.stderr


def test_the_new_service_passes_its_own_suite_and_the_lint(copy: Path):
    env = {"PATH": "/usr/bin:/bin", "SUITES": NAME}
    result = _run(copy, sys.executable, "tests/run.py", "-q", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 passed" in result.stdout
    ruff = Path(sys.executable).parent / "ruff"
    result = _run(copy, str(ruff), "check", ".", env=env)
    assert result.returncode == 0, result.stdout


def test_the_new_service_is_reached_through_the_gateway_with_a_login(stack: Stack):
    assert stack.projects[NAME] == f"{NAME}_service"
    gateway = stack.url("gateway")
    access = stack.login("alice")["access"]

    response = requests.get(
        f"{gateway}/api/{NAME}/",
        headers={"Authorization": f"Bearer {access}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert response.json()["service"] == NAME
    assert response.json()["username"] == "alice"
    assert "client_id" in response.json()

    # The same token directly at the service: its own verification accepts it.
    direct = requests.get(
        f"{stack.url(NAME)}/api/{NAME}/",
        headers={"Authorization": f"Bearer {access}"},
        timeout=10,
    )
    assert direct.status_code == 200


def test_the_portal_describes_the_new_service(stack: Stack):
    response = requests.get(f"{stack.url('gateway')}/api/schema/", timeout=20)
    assert response.status_code == 200
    document = response.json()
    assert {"bearerAuth": []} in document["paths"][f"/api/{NAME}/"]["get"]["security"]
    assert f"{NAME.capitalize()} service (fresh)" in document["info"]["description"]


def test_without_a_token_the_gateway_refuses_before_the_service(stack: Stack):
    response = requests.get(f"{stack.url('gateway')}/api/{NAME}/", timeout=10)
    assert response.status_code == 401
    assert response.json()["detail"]


def test_the_gateway_checks_the_new_service_when_ready(stack: Stack):
    assert requests.get(f"{stack.url('gateway')}/readyz", timeout=10).status_code == 200
    stack.stop(NAME)
    try:
        response = requests.get(f"{stack.url('gateway')}/readyz", timeout=10)
    finally:
        stack.start(NAME)
    assert response.status_code == 503
    assert response.json()["down"] == [NAME]
