"""Small accessors for the pods of the rendered deploy/k8s base."""

from typing import Any


def pod_templates(by_kind: dict[str, dict[str, dict]]) -> dict[tuple[str, str], dict]:
    """Return ``{(kind, name): pod template}`` of every Deployment, Job, CronJob."""
    templates = {
        (kind, name): obj["spec"]["template"]
        for kind in ("Deployment", "Job")
        for name, obj in by_kind.get(kind, {}).items()
    }
    for name, obj in by_kind.get("CronJob", {}).items():
        templates["CronJob", name] = obj["spec"]["jobTemplate"]["spec"]["template"]
    return templates


def containers(template: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the init containers and containers of a pod template."""
    spec = template["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


def web(by_kind: dict[str, dict[str, dict]], project: str) -> dict[str, Any]:
    """Return the ``web`` container of ``project``'s Deployment."""
    spec = by_kind["Deployment"][project]["spec"]["template"]["spec"]
    return next(c for c in spec["containers"] if c["name"] == "web")


def literal_env(container: dict[str, Any]) -> dict[str, str]:
    """Return the container's ``env`` entries that carry a literal value."""
    return {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}


def secret_env(container: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Return ``{variable: (Secret name, key)}`` of the container's secretKeyRefs."""
    return {
        e["name"]: (ref["name"], ref["key"])
        for e in container.get("env", [])
        if (ref := e.get("valueFrom", {}).get("secretKeyRef"))
    }
