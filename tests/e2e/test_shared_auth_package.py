"""shared_auth as a package of its own, in a project that is not this repository.

The wheel is built from ``shared_auth/`` alone, installed into a fresh virtual
environment outside the repository with nothing but its declared dependencies
(and gunicorn to serve), into a project made by ``django-admin startproject``
with one view behind shared_auth's classes. That project, under gunicorn, must
accept a token from the running gateway and refuse a request without one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from devstack.stack import ROOT, Stack, free_port

SOURCE = ROOT / "shared_auth"
AUDIENCE = "billing"
# What the venv may hold: the wheel, what it declares (and theirs), gunicorn.
ALLOWED = {
    "django-shared-auth",
    "django",
    "asgiref",
    "sqlparse",
    "djangorestframework",
    "djangorestframework-simplejwt",
    "pyjwt",
    "cryptography",
    "cffi",
    "pycparser",
    "requests",
    "urllib3",
    "idna",
    "certifi",
    "charset-normalizer",
    "gunicorn",
    "packaging",
    "typing-extensions",
    "pip",
    "setuptools",
}
SETTINGS = """
import os

INSTALLED_APPS += ["rest_framework", "shared_auth"]
MIDDLEWARE.insert(0, "shared_auth.middleware.RequestIdMiddleware")
ALLOWED_HOSTS = ["127.0.0.1"]
JWT_ISSUER = os.environ["JWT_ISSUER"]
JWT_JWKS_URL = f"{JWT_ISSUER}/.well-known/jwks.json"
SHARED_AUTH = {"AUDIENCE": "billing"}
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["shared_auth.authentication.JWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "UNAUTHENTICATED_USER": None,
}
"""
URLS = """
from django.urls import path
from rest_framework.decorators import api_view
from rest_framework.response import Response

import shared_auth


@api_view(["GET"])
def whoami(request):
    return Response({
        "sub": request.user.id,
        "username": request.user.username,
        "shared_auth": shared_auth.__file__,
    })


urlpatterns = [path("api/billing/whoami/", whoami)]
"""


def _run(*args: str | Path, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(arg) for arg in args],
        capture_output=True,
        text=True,
        timeout=600,
        **kwargs,
    )
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result


def _constraints(path: Path) -> Path:
    """Write the monorepo's runtime pins (minus itself) as a constraints file.

    The outside install then takes the versions pip's cache already holds.
    """
    lines = (ROOT / "requirements-runtime.txt").read_text().splitlines()
    pins = [line for line in lines if "==" in line and not line.startswith("#")]
    path.write_text("\n".join(re.sub(r"\[.*\]", "", pin) for pin in pins) + "\n")
    return path


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Build the wheel from a copy of ``shared_auth/`` (the checkout stays clean)."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "shared_auth"
    shutil.copytree(
        SOURCE,
        source,
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build"),
    )
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", work, source)
    (built,) = work.glob("django_shared_auth-*.whl")
    return built


@pytest.fixture(scope="module")
def outside(tmp_path_factory, wheel) -> Path:
    """A fresh venv and a ``startproject`` project, both outside the repository."""
    work = tmp_path_factory.mktemp("outside")
    assert ROOT not in work.parents
    venv = work / "venv"
    _run(sys.executable, "-m", "venv", venv)
    python = venv / "bin" / "python"
    _run(
        python,
        "-m",
        "pip",
        "install",
        "-q",
        "--disable-pip-version-check",
        "-c",
        _constraints(work / "constraints.txt"),
        wheel,
        "gunicorn",
    )
    _run(venv / "bin" / "django-admin", "startproject", "outside", work, cwd=work)
    with (work / "outside" / "settings.py").open("a") as settings:
        settings.write(SETTINGS)
    (work / "outside" / "urls.py").write_text(URLS)
    return work


@pytest.fixture(scope="module")
def gateway(tmp_path_factory) -> Iterator[Stack]:
    """A running stack whose logins also name the outside project's audience."""
    stack = Stack(
        tmp_path_factory.mktemp("package-stack"),
        extra_env={"JWT_AUDIENCE": f"orders,customers,{AUDIENCE}"},
    )
    try:
        yield stack.setup()
    finally:
        stack.close()


@pytest.fixture(scope="module")
def billing(outside: Path, gateway: Stack) -> Iterator[str]:
    """The outside project under the venv's gunicorn; yield its base URL."""
    port = free_port()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(outside),
        "JWT_ISSUER": gateway.url("gateway"),
    }
    log = (outside / "gunicorn.log").open("wb")
    process = subprocess.Popen(
        [
            outside / "venv" / "bin" / "gunicorn",
            "outside.wsgi",
            "-b",
            f"127.0.0.1:{port}",
        ],
        cwd=outside,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            try:
                requests.get(base, timeout=5)
                break
            except requests.RequestException:  # not listening yet, or still loading
                time.sleep(0.1)
        assert process.poll() is None, (outside / "gunicorn.log").read_text()
        yield base
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()


def test_the_wheel_holds_the_whole_package_typed(wheel: Path):
    names = set(zipfile.ZipFile(wheel).namelist())
    for module in SOURCE.glob("**/*.py"):
        assert f"shared_auth/{module.relative_to(SOURCE)}" in names, module
    assert "shared_auth/py.typed" in names
    assert not any(name.endswith(("pyproject.toml", "README.md")) for name in names)
    metadata = zipfile.ZipFile(wheel).read(
        next(name for name in names if name.endswith(".dist-info/METADATA"))
    )
    assert b"Name: django-shared-auth" in metadata
    assert b"Requires-Dist: djangorestframework" in metadata


def test_the_outside_venv_holds_only_the_declared_dependencies(outside: Path):
    listed = _run(
        outside / "venv" / "bin" / "python", "-m", "pip", "list", "--format=json"
    )
    installed = {
        item["name"].lower().replace("_", "-") for item in json.loads(listed.stdout)
    }
    assert "django-shared-auth" in installed
    assert installed <= ALLOWED, installed - ALLOWED
    assert not {"drf-spectacular", "dj-database-url", "whitenoise"} & installed


def test_a_gateway_token_is_accepted_outside_the_repository(
    billing: str, gateway: Stack, outside: Path
):
    token = gateway.login("alice")["access"]
    response = requests.get(
        f"{billing}/api/billing/whoami/",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["username"] == "alice"
    # The venv's installed copy served it, not this checkout.
    assert body["shared_auth"].startswith(str(outside / "venv"))
    assert response.headers["X-Request-ID"]


def test_no_token_and_a_forged_token_are_refused(billing: str, gateway: Stack):
    url = f"{billing}/api/billing/whoami/"
    missing = requests.get(url, timeout=10)
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")

    header, payload, signature = gateway.login("alice")["access"].split(".")
    forged = f"{header}.{payload}.{signature[::-1]}"
    refused = requests.get(
        url, headers={"Authorization": f"Bearer {forged}"}, timeout=10
    )
    assert refused.status_code == 401
