"""``manage.py startservice NAME``: a new DRF service in the monorepo, registered.

Creates ``NAME_service/`` laid out like ``orders_service/`` (settings on
``common/``, shared_auth verifying every request, ``/healthz``, a
``gunicorn.conf.py``, OpenAPI at ``/api/schema/`` and ``/api/docs/``, a first
model-free view at ``/api/NAME/``), its test suite ``tests/NAME/`` and its
Kubernetes resources ``deploy/k8s/NAME.yaml``; then registers it: an entry in
``common/services.py`` (from which the gateway routes ``/api/NAME/``, adds
``NAME`` to a login token's audience and checks it in ``/readyz``, and the test
runner and the e2e stack pick it up), a ``Procfile`` line, the ``Makefile``'s
migrations, the image's entrypoint and port, and the Kustomize base and
ConfigMap. Everything is checked before anything is written.
"""

from __future__ import annotations

import keyword
import re
import runpy
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

TEMPLATE = Path(__file__).resolve().parents[2] / "template"
# The gateway's internal listener in the image and deploy/k8s (GATEWAY_INTERNAL_BIND):
# never a service's port.
GATEWAY_INTERNAL_PORT = 8090
# A Python package, a URL segment, an environment-variable prefix and a
# Kubernetes object name (DNS-1123: no "_") all at once.
NAME = re.compile(r"[a-z][a-z0-9]{1,29}")
# Names the gateway or the repository already use for something else.
RESERVED = frozenset(
    {
        "gateway",
        "common",
        "shared",
        "tests",
        "support",
        "deploy",
        "bench",
        "chaos",
        "devstack",
        "docs",
        "schema",
        "auth",
        "admin",
        "static",
        "api",
        "var",
        "metrics",
    }
)


class Command(BaseCommand):
    help = "Create a new DRF service project NAME_service and register it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="the service's name, e.g. inventory")
        parser.add_argument(
            "--port",
            type=int,
            help="its local port (default: the highest one in use plus one)",
        )

    def handle(self, *args: Any, name: str, port: int | None, **options: Any) -> None:
        root = Path(settings.BASE_DIR)
        services = read_services(root)
        check_name(name, root, services)
        port = check_port(port, services)
        context = {
            "{{ name }}": name,
            "{{ Name }}": name.capitalize(),
            "{{ NAME }}": name.upper(),
            "{{ port }}": str(port),
        }
        files = {**rendered_files(root, name, context)}
        for relative, edit in registrations(name, port).items():
            path = root / relative
            try:
                files[path] = edit(path.read_text())
            except (OSError, LookupError) as exc:
                raise CommandError(
                    f"Cannot register {name!r} in {relative}: {exc}"
                ) from exc
        for path, content in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
        self.stdout.write(
            self.style.SUCCESS(f"Created {name}_service (port {port}), registered:")
        )
        for path in files:
            self.stdout.write(f"  {path.relative_to(root)}")
        self.stdout.write(
            f"Next: make migrate, then make run: the gateway routes /api/{name}/ "
            f"to 127.0.0.1:{port} ({name.upper()}_SERVICE_URL). In production, "
            f"create the Secret {name}-env ({name.upper()}_DATABASE_URL, "
            "DJANGO_SECRET_KEY) and build the image."
        )


def read_services(root: Path) -> dict[str, int]:
    """Return ``SERVICES`` of ``root``'s ``common/services.py``, read from the file."""
    return runpy.run_path(str(root / "common" / "services.py"))["SERVICES"]


def check_name(name: str, root: Path, services: dict[str, int]) -> None:
    """Raise ``CommandError`` unless ``name`` is a new, valid service name."""
    if not NAME.fullmatch(name) or keyword.iskeyword(name):
        raise CommandError(
            f"{name!r} is not a valid service name: use 2 to 30 lowercase letters "
            "and digits, starting with a letter (it names a Python package, the "
            "URL prefix /api/NAME/, environment variables and Kubernetes objects)."
        )
    if name in services:
        raise CommandError(f"A service named {name!r} already exists.")
    labels = {config.label for config in apps.get_app_configs()}
    if name in RESERVED or name in labels:
        raise CommandError(
            f"{name!r} collides with a name the gateway already uses "
            "(a project, an app label or a gateway path); choose another."
        )
    for existing in (
        f"{name}_service",
        f"tests/{name}",
        f"deploy/k8s/{name}.yaml",
        name,
    ):
        if (root / existing).exists():
            raise CommandError(f"{existing} already exists; choose another name.")


def check_port(port: int | None, services: dict[str, int]) -> int:
    """Return ``port``, or the next free one; raise ``CommandError`` if taken."""
    taken = {8000, *services.values()}
    if port is None:
        port = max(taken) + 1
        return port + 1 if port == GATEWAY_INTERNAL_PORT else port
    if not 1024 < port < 65536:
        raise CommandError(f"Port {port} is out of range (1025-65535).")
    if port in taken | {GATEWAY_INTERNAL_PORT}:
        raise CommandError(f"Port {port} is already used by the gateway or a service.")
    return port


def render(text: str, context: dict[str, str]) -> str:
    """Return ``text`` with each ``{{ key }}`` of ``context`` replaced."""
    for key, value in context.items():
        text = text.replace(key, value)
    return text


def rendered_files(root: Path, name: str, context: dict[str, str]) -> dict[Path, str]:
    """Return ``{destination: content}`` of the template's files for ``name``."""
    targets = {
        "service/app": root / f"{name}_service" / name,
        "service": root / f"{name}_service",
        "tests": root / "tests" / name,
        "deploy": root / "deploy" / "k8s",
    }
    files: dict[Path, str] = {}
    for source in sorted(TEMPLATE.rglob("*-tpl")):
        folder = source.parent.relative_to(TEMPLATE).as_posix()
        filename = source.name.removesuffix("-tpl").replace(
            "service.yaml", f"{name}.yaml"
        )
        files[targets[folder] / filename] = render(source.read_text(), context)
    return files


def _sub(
    pattern: str, replacement: str, flags: int = re.MULTILINE
) -> Callable[[str], str]:
    """Return an edit replacing ``pattern`` once; it raises if ``pattern`` is absent."""

    def edit(text: str) -> str:
        new, count = re.subn(pattern, replacement, text, count=1, flags=flags)
        if not count:
            raise LookupError(f"no match for {pattern!r}")
        return new

    return edit


def _chain(*edits: Callable[[str], str]) -> Callable[[str], str]:
    def edit(text: str) -> str:
        for step in edits:
            text = step(text)
        return text

    return edit


def _after_last(pattern: str, line: str) -> Callable[[str], str]:
    """Return an edit inserting ``line`` after the last line matching ``pattern``."""

    def edit(text: str) -> str:
        lines = text.splitlines(keepends=True)
        matching = [i for i, old in enumerate(lines) if re.search(pattern, old)]
        if not matching:
            raise LookupError(f"no line matching {pattern!r}")
        lines.insert(matching[-1] + 1, line + "\n")
        return "".join(lines)

    return edit


def registrations(name: str, port: int) -> dict[str, Callable[[str], str]]:
    """Return ``{file: edit}``: how each registry file learns about ``name``."""
    upper = name.upper()
    return {
        "common/services.py": _sub(
            r"^(SERVICES: dict\[str, int\] = \{\n(?:    .*\n)*)\}",
            rf'\g<1>    "{name}": {port},\n}}',
        ),
        "Procfile": _after_last(
            r"_service/gunicorn\.conf\.py$",
            f"{name}: .venv/bin/gunicorn -c {name}_service/gunicorn.conf.py",
        ),
        "Makefile": _sub(r"^(SETTINGS := .*)$", rf"\1 {name}_service.settings"),
        "deploy/k8s/kustomization.yaml": _sub(
            r"^(  - ingress\.yaml)$", rf"  - {name}.yaml\n\1"
        ),
        "deploy/k8s/config.yaml": _chain(
            _sub(r'^(  DJANGO_ALLOWED_HOSTS: "[^"]*)"', rf'\1,{name}"'),
            _sub(
                r"^((?:  [A-Z]+_SERVICE_URL: .*\n)+)",
                rf'\g<1>  {upper}_SERVICE_URL: "http://{name}:{port}"\n',
            ),
        ),
        "deploy/entrypoint.sh": _chain(
            _sub(r"^(  gateway(?: \| [a-z0-9]+)*)\)", rf"\1 | {name})"),
            _sub(
                r"^(  \*\)\n    echo \"usage)",
                rf"  {name}) module={name}_service ;;\n\1",
            ),
            _sub(r"(usage: entrypoint\.sh gateway[a-z0-9|]*)", rf"\1|{name}"),
        ),
        "Dockerfile": _sub(r"^(EXPOSE .*)$", rf"\1 {port}"),
    }
