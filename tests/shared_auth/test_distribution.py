"""shared_auth's pyproject.toml declares exactly the distributions it imports."""

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import shared_auth

SOURCE = Path(__file__).resolve().parents[2] / "shared_auth"


def imported_top_level_modules() -> set[str]:
    names: set[str] = set()
    for path in SOURCE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"shared_auth"}


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_declared_dependencies_are_exactly_the_imported_ones():
    project = tomllib.loads((SOURCE / "pyproject.toml").read_text())["project"]
    declared = {
        normalize(re.split(r"[\[<>=!~ ;]", requirement, maxsplit=1)[0])
        for requirement in project["dependencies"]
    }
    providers = importlib.metadata.packages_distributions()
    imported = {
        normalize(distribution)
        for module in imported_top_level_modules()
        for distribution in providers[module]
    }
    assert declared == imported


def test_the_package_is_installed_not_found_by_path():
    distribution = importlib.metadata.distribution("django-shared-auth")
    assert distribution.version == shared_auth_version()
    assert Path(shared_auth.__file__).resolve().parent == SOURCE


def shared_auth_version() -> str:
    return tomllib.loads((SOURCE / "pyproject.toml").read_text())["project"]["version"]


def test_the_package_is_typed():
    assert (SOURCE / "py.typed").is_file()
