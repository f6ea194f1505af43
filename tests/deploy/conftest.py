"""The rendered deploy/k8s base, shared by the deploy tests."""

from pathlib import Path

import pytest

from devstack.stack import projects_of
from tests.deploy.kustomize import render

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "deploy" / "k8s"
# The gateway and the services of common/services.py.
PROJECTS = projects_of(ROOT)


@pytest.fixture(scope="session")
def objects() -> list[dict]:
    return render(BASE)


@pytest.fixture(scope="session")
def by_kind(objects) -> dict[str, dict[str, dict]]:
    """``{kind: {name: object}}`` of the rendered base."""
    kinds: dict[str, dict[str, dict]] = {}
    for obj in objects:
        kinds.setdefault(obj["kind"], {})[obj["metadata"]["name"]] = obj
    return kinds


@pytest.fixture(scope="session")
def config(by_kind) -> dict[str, str]:
    return by_kind["ConfigMap"]["access-token-config"]["data"]
