"""Render a kustomization the simple way deploy/k8s needs, with no kustomize binary.

Only ``resources`` (files, or directories holding a kustomization) is supported;
any other kustomize feature fails loudly, so the base cannot start using one that
these tests would silently ignore.
"""

from pathlib import Path
from typing import Any

import yaml

SUPPORTED_FIELDS = {"apiVersion", "kind", "resources"}


def render(directory: Path) -> list[dict[str, Any]]:
    """Return the objects of the kustomization in ``directory``, in order."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unsupported = set(kustomization) - SUPPORTED_FIELDS
    if unsupported:
        raise ValueError(f"unsupported kustomization fields: {sorted(unsupported)}")
    objects: list[dict[str, Any]] = []
    for entry in kustomization["resources"]:
        path = directory / entry
        if path.is_dir():
            objects.extend(render(path))
        else:
            objects.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    return objects


def matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Return True if a label selector (``matchLabels`` only) selects ``labels``."""
    if set(selector) - {"matchLabels"}:
        raise ValueError(f"unsupported selector: {selector}")
    wanted = selector.get("matchLabels", {})
    return all(labels.get(key) == value for key, value in wanted.items())
