"""``manage.py check --deploy`` is clean for the three projects with the
environment a pod gets (image + ConfigMap + container env + its Secret); with
DEBUG off the HTTPS switches default on, and DJANGO_HTTPS=0 (plain http) turns them
off."""

import os
import subprocess
import sys

import pytest

from tests.deploy.conftest import PROJECTS, ROOT
from tests.deploy.processes import production_env

CLEAN = "System check identified no issues"


def check_deploy(module: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "manage.py",
            "check",
            "--deploy",
            "--fail-level",
            "WARNING",
            f"--settings={module}.settings",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("project", PROJECTS)
def test_check_deploy_is_clean_with_the_production_environment(
    by_kind, config, project, tmp_path
):
    env = production_env(by_kind, config, project, tmp_path)
    result = check_deploy(PROJECTS[project], env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert CLEAN in result.stdout
    assert config["DJANGO_DEBUG"] == "0"


def test_without_the_feed_secret_check_deploy_warns(by_kind, config, tmp_path):
    """A pod whose REVOCATION_FEED_TOKEN is not set would make its own (VAR_DIR):
    operators are told (shared_auth.W001) instead of revocation silently off."""
    env = production_env(by_kind, config, "orders", tmp_path)
    del env["REVOCATION_FEED_TOKEN"]
    result = check_deploy(PROJECTS["orders"], env)
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "shared_auth.W001" in output
    assert "REVOCATION_FEED_TOKEN" in output


def test_defaults_keep_debug_off_and_plain_http(tmp_path):
    """With no production values and plain http, the HTTPS checks and the
    missing revocation feed credential complain (not DEBUG)."""
    env = {"PATH": os.environ["PATH"], "VAR_DIR": str(tmp_path), "DJANGO_HTTPS": "0"}
    result = check_deploy("orders_service", env)
    assert result.returncode == 1
    for code in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert code in result.stderr + result.stdout
    # The credential made in VAR_DIR is this checkout's, not a shared one.
    assert "shared_auth.W001" in result.stderr + result.stdout
    assert "security.W018" not in result.stderr + result.stdout  # DEBUG


def test_with_debug_off_the_https_switches_default_on(tmp_path):
    """No HTTPS variable set: redirect, HSTS and secure cookies are on."""
    env = {"PATH": os.environ["PATH"], "VAR_DIR": str(tmp_path)}
    result = check_deploy("orders_service", env)
    output = result.stderr + result.stdout
    for code in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert code not in output
    assert "shared_auth.W001" in output  # the only complaint left
