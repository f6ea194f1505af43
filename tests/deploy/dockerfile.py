"""Read the Dockerfile's instructions (no Docker engine needed)."""

import shlex
from pathlib import Path

from tests.deploy.conftest import ROOT

DOCKERFILE = ROOT / "Dockerfile"


def instructions(path: Path = DOCKERFILE) -> list[tuple[str, str]]:
    """Return ``(INSTRUCTION, arguments)`` pairs, continuation lines joined."""
    result: list[tuple[str, str]] = []
    pending = ""
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        command, _, arguments = (pending + stripped).partition(" ")
        result.append((command.upper(), arguments.strip()))
        pending = ""
    return result


def image_env() -> dict[str, str]:
    """Return the environment the image's ``ENV`` instructions set."""
    env: dict[str, str] = {}
    for command, arguments in instructions():
        if command == "ENV":
            env.update(item.split("=", 1) for item in shlex.split(arguments))
    return env
