"""shared_auth's pyproject.toml declares exactly the distributions it imports."""

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import shared_auth

SOURCE = Path(__file__).resolve().parents[2] / "shared_auth"


def _catches_import_error(node: ast.Try) -> bool:
    names = set()
    for handler in node.handlers:
        for kind in (
            handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        ):
            if isinstance(kind, ast.Name):
                names.add(kind.id)
    return bool(names & {"ImportError", "ModuleNotFoundError"})


def _imports(node: ast.AST, optional: bool, found: dict[str, bool]) -> None:
    """Collect ``{module: optional?}``: optional under try/except ImportError."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            name = alias.name.split(".")[0]
            found[name] = found.get(name, True) and optional
    elif isinstance(node, ast.ImportFrom) and not node.level:
        name = node.module.split(".")[0]
        found[name] = found.get(name, True) and optional
    inner = optional or (isinstance(node, ast.Try) and _catches_import_error(node))
    for child in ast.iter_child_nodes(node):
        _imports(child, inner, found)


def imported_top_level_modules() -> dict[str, bool]:
    """Return ``{module: optional?}`` of the third-party modules imported."""
    found: dict[str, bool] = {}
    for path in SOURCE.rglob("*.py"):
        _imports(ast.parse(path.read_text()), False, found)
    ignored = set(sys.stdlib_module_names) | {"shared_auth"}
    return {name: opt for name, opt in found.items() if name not in ignored}


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _names(requirements: list[str]) -> set[str]:
    return {
        normalize(re.split(r"[\[<>=!~ ;]", requirement, maxsplit=1)[0])
        for requirement in requirements
    }


def test_the_declared_dependencies_are_exactly_the_imported_ones():
    """Required: imported unconditionally; an extra: imported under try/ImportError."""
    project = tomllib.loads((SOURCE / "pyproject.toml").read_text())["project"]
    declared = _names(project["dependencies"])
    extras = _names(
        [
            req
            for group in project.get("optional-dependencies", {}).values()
            for req in group
        ]
    )
    providers = importlib.metadata.packages_distributions()
    modules = imported_top_level_modules()

    def distributions(optional: bool) -> set[str]:
        return {
            normalize(distribution)
            for module, is_optional in modules.items()
            if is_optional == optional
            for distribution in providers.get(module, [module])
        }

    assert declared == distributions(optional=False)
    assert distributions(optional=True) <= extras


def test_the_package_is_installed_not_found_by_path():
    distribution = importlib.metadata.distribution("django-shared-auth")
    assert distribution.version == shared_auth_version()
    assert Path(shared_auth.__file__).resolve().parent == SOURCE


def shared_auth_version() -> str:
    return tomllib.loads((SOURCE / "pyproject.toml").read_text())["project"]["version"]


def test_the_package_is_typed():
    assert (SOURCE / "py.typed").is_file()
