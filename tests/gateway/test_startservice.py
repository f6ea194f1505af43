"""``manage.py startservice``: what it writes, what it refuses (in a scratch root).

The scratch root holds copies of the files the command edits; the whole
command, the stack it starts and the request through the gateway are in
``tests/e2e/test_startservice.py``.
"""

import runpy
import shutil
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from gateway_project.scaffold.management.commands.startservice import (
    GATEWAY_INTERNAL_PORT,
    check_port,
)

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = [
    "common/services.py",
    "Procfile",
    "Makefile",
    "Dockerfile",
    "deploy/entrypoint.sh",
    "deploy/k8s/kustomization.yaml",
    "deploy/k8s/config.yaml",
]


@pytest.fixture
def root(tmp_path, settings) -> Path:
    for name in REGISTRY:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    procfile = tmp_path / "Procfile"
    if "welcome:" not in procfile.read_text():  # as on main: a non-service process
        procfile.write_text(
            procfile.read_text() + "welcome: python -m common.welcome\n"
        )
    (tmp_path / "orders_service").mkdir()
    settings.BASE_DIR = tmp_path
    return tmp_path


def snapshot(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): path.read_text()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def start(name: str, *args: str) -> str:
    out = StringIO()
    call_command("startservice", name, *args, stdout=out)
    return out.getvalue()


def test_a_service_is_created_and_registered(root: Path):
    output = start("inventory")

    assert "Created inventory_service (port 8003)" in output
    for path in (
        "inventory_service/settings.py",
        "inventory_service/urls.py",
        "inventory_service/gunicorn.conf.py",
        "inventory_service/wsgi.py",
        "inventory_service/inventory/apps.py",
        "inventory_service/inventory/views.py",
        "tests/inventory/test_whoami.py",
        "deploy/k8s/inventory.yaml",
    ):
        assert (root / path).is_file(), path
    settings_py = (root / "inventory_service/settings.py").read_text()
    assert "from common.service_settings import *" in settings_py
    assert 'SHARED_AUTH = {**SHARED_AUTH, "AUDIENCE": PROJECT}' in settings_py
    assert 'database("INVENTORY_DATABASE_URL", PROJECT)' in settings_py
    assert "{{" not in "".join(snapshot(root).values())
    services = runpy.run_path(str(root / "common/services.py"))["SERVICES"]
    assert services == {"orders": 8001, "customers": 8002, "inventory": 8003}
    procfile = (root / "Procfile").read_text().splitlines()
    line = "inventory: .venv/bin/gunicorn -c inventory_service/gunicorn.conf.py"
    # After the last service, before any other process (make run's banner).
    assert procfile[procfile.index(line) - 1].startswith("customers: ")
    assert procfile[-1].startswith("welcome: ")
    assert "inventory_service.settings" in (root / "Makefile").read_text()
    assert (
        "  - inventory.yaml\n" in (root / "deploy/k8s/kustomization.yaml").read_text()
    )
    config = (root / "deploy/k8s/config.yaml").read_text()
    assert 'INVENTORY_SERVICE_URL: "http://inventory:8003"' in config
    assert "gateway,orders,customers,inventory" in config
    entrypoint = (root / "deploy/entrypoint.sh").read_text()
    assert "inventory) module=inventory_service ;;" in entrypoint
    assert "EXPOSE 8000 8001 8002 8003" in (root / "Dockerfile").read_text()


def test_a_second_service_takes_the_next_port_or_the_one_given(root: Path):
    start("inventory")
    assert "port 9100" in start("billing", "--port", "9100")
    services = runpy.run_path(str(root / "common/services.py"))["SERVICES"]
    assert list(services.items())[-2:] == [("inventory", 8003), ("billing", 9100)]
    assert (
        "gateway|orders|customers|inventory|billing"
        in (root / "deploy/entrypoint.sh").read_text()
    )


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Inventory", "not a valid service name"),
        ("in-ventory", "not a valid service name"),
        ("in_ventory", "not a valid service name"),
        ("9lives", "not a valid service name"),
        ("x", "not a valid service name"),
        ("a" * 31, "not a valid service name"),
        ("../evil", "not a valid service name"),
        ("inventory\n", "not a valid service name"),
        ("class", "not a valid service name"),
        ("orders", "already exists"),
        ("customers", "already exists"),
        ("gateway", "collides"),
        ("docs", "collides"),
        ("support", "collides"),
        ("auth", "collides"),
        ("sessions", "collides"),
        ("identity", "collides"),
        ("common", "collides"),
    ],
)
def test_bad_or_colliding_names_are_refused_and_nothing_is_written(
    root: Path, name: str, message: str
):
    before = snapshot(root)
    with pytest.raises(CommandError, match=message):
        start(name)
    assert snapshot(root) == before


def test_an_existing_directory_or_a_taken_port_is_refused(root: Path):
    (root / "tests" / "billing").mkdir(parents=True)
    before = snapshot(root)
    with pytest.raises(CommandError, match="tests/billing already exists"):
        start("billing")
    with pytest.raises(CommandError, match="Port 8001 is already used"):
        start("inventory", "--port", "8001")
    with pytest.raises(CommandError, match="out of range"):
        start("inventory", "--port", "80")
    assert snapshot(root) == before


def test_a_registry_file_without_its_anchor_stops_everything(root: Path):
    (root / "Makefile").write_text("# no SETTINGS line\n")
    before = snapshot(root)
    with pytest.raises(CommandError, match="Cannot register 'inventory' in Makefile"):
        start("inventory")
    assert snapshot(root) == before


def test_the_gateways_internal_port_is_never_a_services(root: Path):
    with pytest.raises(CommandError, match="Port 8090 is already used"):
        start("inventory", "--port", str(GATEWAY_INTERNAL_PORT))
    assert check_port(None, {"orders": 8001, "last": 8089}) == 8091
    assert check_port(None, {"orders": 8001, "last": 8090}) == 8091
