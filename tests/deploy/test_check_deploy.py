"""``manage.py check --deploy`` is clean for the three projects with the
environment a pod gets (image + ConfigMap + container env + its Secret), while the
defaults stay those of a laptop: DEBUG off, plain http."""

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


def test_defaults_keep_debug_off_and_plain_http(tmp_path):
    """With no production values, only the HTTPS checks complain (not DEBUG)."""
    env = {"PATH": os.environ["PATH"], "VAR_DIR": str(tmp_path)}
    result = check_deploy("orders_service", env)
    assert result.returncode == 1
    for code in ("W004", "W008", "W012", "W016"):
        assert f"security.{code}" in result.stderr + result.stdout
    assert "security.W018" not in result.stderr + result.stdout  # DEBUG
