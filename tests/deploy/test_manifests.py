"""deploy/k8s: valid for a pinned Kubernetes, and the security properties hold."""

import copy
import re
import subprocess
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml

from tests.deploy.conftest import BASE, PROJECTS, ROOT
from tests.deploy.kustomize import matches
from tests.deploy.pods import containers, literal_env, secret_env, web
from tests.deploy.pods import pod_templates as pod_specs

# The Kubernetes version the manifests are validated against (strict schemas,
# bundled by kubernetes-validate: no network).
KUBERNETES_VERSION = "1.33"
INGRESS_CONTROLLER_NAMESPACE = "ingress-nginx"
SECRET_ENV = re.compile(r"SECRET|PASSWORD|DATABASE_URL|TOKEN", re.IGNORECASE)


# -- schema ------------------------------------------------------------------------
def test_every_object_is_valid_for_the_pinned_kubernetes(objects):
    for obj in objects:
        assert (
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
            == KUBERNETES_VERSION
        )


def test_the_validator_rejects_an_unknown_field(by_kind):
    broken = copy.deepcopy(by_kind["Deployment"]["orders"])
    broken["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_every_manifest_file_is_in_the_kustomization():
    kustomization = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    on_disk = {p.name for p in BASE.glob("*.yaml")} - {"kustomization.yaml"}
    assert on_disk == set(kustomization["resources"])


def test_one_image_for_every_container(by_kind):
    images = {c["image"] for t in pod_specs(by_kind).values() for c in containers(t)}
    assert len(images) == 1


# -- per project -------------------------------------------------------------------
@pytest.mark.parametrize("project", PROJECTS)
def test_each_project_has_deployment_service_and_autoscaler(by_kind, project):
    deployment = by_kind["Deployment"][project]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert "replicas" not in deployment["spec"], "the autoscaler owns the count"
    service = by_kind["Service"][project]
    assert matches({"matchLabels": service["spec"]["selector"]}, pod_labels)
    ports = {p["name"]: p["containerPort"] for p in web(by_kind, project)["ports"]}
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"]
    assert "http" in ports
    target = by_kind["HorizontalPodAutoscaler"][project]["spec"]
    assert target["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": project,
    }
    assert 2 <= target["minReplicas"] < target["maxReplicas"]


def test_services_do_not_select_migration_pods(by_kind):
    for (kind, name), template in pod_specs(by_kind).items():
        labels = template["metadata"]["labels"]
        selected = [
            service
            for service, obj in by_kind["Service"].items()
            if matches({"matchLabels": obj["spec"]["selector"]}, labels)
        ]
        assert selected == ([name] if kind == "Deployment" else []), (kind, name)


@pytest.mark.parametrize("project", PROJECTS)
def test_probes(by_kind, config, project):
    container = web(by_kind, project)
    readiness = "/readyz" if project == "gateway" else "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == readiness
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    allowed_hosts = config["DJANGO_ALLOWED_HOSTS"].split(",")
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        get = container[probe]["httpGet"]
        assert get["port"] == "http"
        # The kubelet sends the pod IP as Host unless told otherwise: Django
        # would answer 400 (DisallowedHost) and the pod would never be ready.
        headers = {h["name"]: h["value"] for h in get["httpHeaders"]}
        assert headers["Host"] in allowed_hosts


def test_every_container_has_requests_limits_and_runs_locked_down(by_kind):
    for key, template in pod_specs(by_kind).items():
        pod = template["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, key
        assert pod["automountServiceAccountToken"] is False, key
        for container in containers(template):
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]), key
            assert {"cpu", "memory"} <= set(resources["limits"]), key
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, key
            assert security["readOnlyRootFilesystem"] is True, key
            assert security["capabilities"]["drop"] == ["ALL"], key


# -- configuration and secrets --------------------------------------------------
def test_no_secret_in_the_manifests(objects, config):
    assert not [o for o in objects if o["kind"] == "Secret"]
    assert not [key for key in config if SECRET_ENV.search(key)]
    for obj in objects:
        if obj["kind"] not in ("Deployment", "Job"):
            continue
        for container in containers(obj["spec"]["template"]):
            assert not [k for k in literal_env(container) if SECRET_ENV.search(k)]


@pytest.mark.parametrize("project", PROJECTS)
def test_config_from_the_configmap_and_secrets_from_the_project_secret(
    by_kind, project
):
    for template in (
        by_kind["Deployment"][project]["spec"]["template"],
        by_kind["Job"][f"{project}-migrate"]["spec"]["template"],
    ):
        for container in containers(template):
            assert container["envFrom"] == [
                {"configMapRef": {"name": "access-token-config"}},
                {"secretRef": {"name": f"{project}-env"}},
            ]
            settings = literal_env(container)["DJANGO_SETTINGS_MODULE"]
            assert settings == f"{PROJECTS[project]}.settings"


def test_every_project_reads_the_same_feed_token_from_one_secret(by_kind, config):
    """The gateway serves the revocation feed with the credential the services
    send: a token of each pod's own (VAR_DIR) would make the feed refuse them."""
    refs = {
        project: secret_env(web(by_kind, project)).get("REVOCATION_FEED_TOKEN")
        for project in PROJECTS
    }
    assert refs == dict.fromkeys(PROJECTS, ("revocation-feed", "REVOCATION_FEED_TOKEN"))
    for project in PROJECTS:
        entry = next(
            e
            for e in web(by_kind, project)["env"]
            if e["name"] == "REVOCATION_FEED_TOKEN"
        )
        # A missing Secret must stop the pod, not start it without revocation.
        assert entry["valueFrom"]["secretKeyRef"].get("optional") is not True
    assert "REVOCATION_FEED_TOKEN" not in config


def in_cluster_target(by_kind, url: str) -> tuple[str, str]:
    """Return the Deployment and its container port name an in-cluster URL reaches."""
    parts = urlsplit(url)
    assert parts.scheme == "http", url
    service = by_kind["Service"][parts.hostname]["spec"]
    (port,) = [p for p in service["ports"] if p["port"] == parts.port]
    (deployment,) = [
        name
        for name, obj in by_kind["Deployment"].items()
        if matches(
            {"matchLabels": service["selector"]},
            obj["spec"]["template"]["metadata"]["labels"],
        )
    ]
    return deployment, port["targetPort"]


@pytest.mark.parametrize(
    ("variable", "path"),
    [
        ("JWT_JWKS_URL", "/.well-known/jwks.json"),
        ("REVOCATION_FEED_URL", "/auth/revocations/"),
    ],
)
def test_the_services_reach_the_gateway_in_cluster(by_kind, config, variable, path):
    """The JWKS and the revocation feed: through the gateway's Service, on a port
    the NetworkPolicy opens to both services, with no container overriding it."""
    url = config[variable]
    assert urlsplit(url).path == path
    deployment, port = in_cluster_target(by_kind, url)
    assert deployment == "gateway"
    for project in PROJECTS:
        container = web(by_kind, project)
        assert variable not in literal_env(container) | secret_env(container)
    gateway = by_kind["Deployment"]["gateway"]["spec"]["template"]["metadata"]
    opened = {
        source
        for policy in by_kind["NetworkPolicy"].values()
        if matches(policy["spec"]["podSelector"], gateway["labels"])
        for rule in policy["spec"].get("ingress", [])
        if {"port": port} in rule.get("ports", [])
        for peer in rule["from"]
        for source in peer_names(by_kind, peer)
    }
    assert {"Deployment:orders", "Deployment:customers"} <= opened


def test_no_private_key_is_tracked_by_git():
    marker = "PRIVATE " + "KEY-----"
    tracked = subprocess.run(
        ["git", "grep", "-l", "-I", "-F", marker],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert tracked.returncode == 1, tracked.stdout  # 1: git grep found nothing


def test_signing_keys_are_a_read_only_secret_only_the_gateway_mounts(by_kind):
    gateway = by_kind["Deployment"]["gateway"]["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in gateway["volumes"]}
    container = web(by_kind, "gateway")
    keys_dir = literal_env(container)["JWT_SIGNING_KEYS_DIR"]
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == keys_dir)
    assert mount["readOnly"] is True
    assert volumes[mount["name"]]["secret"]["secretName"] == "gateway-signing-keys"
    mounted_by = [
        key
        for key, template in pod_specs(by_kind).items()
        for volume in template["spec"].get("volumes", [])
        if volume.get("secret", {}).get("secretName") == "gateway-signing-keys"
    ]
    assert mounted_by == [("Deployment", "gateway")]


# -- migrations ----------------------------------------------------------------------
@pytest.mark.parametrize("project", PROJECTS)
def test_migrations_run_as_a_job_not_at_container_start(by_kind, project):
    job = by_kind["Job"][f"{project}-migrate"]["spec"]["template"]["spec"]
    assert job["restartPolicy"] == "Never"
    assert job["containers"][0]["command"] == [
        "python",
        "manage.py",
        "migrate",
        "--noinput",
    ]
    deployment = by_kind["Deployment"][project]["spec"]["template"]["spec"]
    assert [c["args"] for c in deployment["containers"]] == [[project]]
    assert "command" not in deployment["containers"][0]  # the image's gunicorn
    # The pods only wait for the schema; they never change it.
    for init in deployment["initContainers"]:
        assert "migrate --check" in " ".join(init["command"])


# -- network ----------------------------------------------------------------------
def test_the_ingress_reaches_the_gateway_only(by_kind):
    backends = [
        path["backend"]["service"]["name"]
        for ingress in by_kind["Ingress"].values()
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    ]
    assert backends == ["gateway"]
    assert all(i["spec"]["tls"] for i in by_kind["Ingress"].values())


def allowed_sources(by_kind, labels: dict[str, str]) -> set[str] | None:
    """Return who may connect to pods with ``labels`` (None: not isolated).

    A source is a project's name (when a peer selects that project's pods, of any
    kind) or ``namespace:<name>``.
    """
    policies = [
        p["spec"]
        for p in by_kind["NetworkPolicy"].values()
        if matches(p["spec"]["podSelector"], labels)
        and "Ingress" in p["spec"]["policyTypes"]
    ]
    if not policies:
        return None
    sources: set[str] = set()
    for policy in policies:
        for rule in policy.get("ingress", []):
            assert rule.get("from"), "a rule without 'from' admits everyone"
            for peer in rule["from"]:
                sources |= peer_names(by_kind, peer)
    return sources


def peer_names(by_kind, peer: dict) -> set[str]:
    if "namespaceSelector" in peer:
        assert set(peer) == {"namespaceSelector"}
        name = peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        return {f"namespace:{name}"}
    assert set(peer) == {"podSelector"}
    return {
        f"{kind}:{name}"
        for (kind, name), template in pod_specs(by_kind).items()
        if matches(peer["podSelector"], template["metadata"]["labels"])
    }


def test_network_policy(by_kind):
    """Only the gateway reaches orders, only it and orders reach customers."""
    web_pods = {
        name: obj["spec"]["template"]["metadata"]["labels"]
        for name, obj in by_kind["Deployment"].items()
    }
    assert allowed_sources(by_kind, web_pods["orders"]) == {"Deployment:gateway"}
    assert allowed_sources(by_kind, web_pods["customers"]) == {
        "Deployment:gateway",
        "Deployment:orders",
    }
    # The ingress controller, and the services (the JWKS, the revocation feed).
    assert allowed_sources(by_kind, web_pods["gateway"]) == {
        f"namespace:{INGRESS_CONTROLLER_NAMESPACE}",
        *(f"Deployment:{name}" for name in PROJECTS if name != "gateway"),
    }
    # Any other service (manage.py startservice): only the gateway.
    for name in set(PROJECTS) - {"gateway", "orders", "customers"}:
        assert allowed_sources(by_kind, web_pods[name]) == {"Deployment:gateway"}


def test_every_pod_is_isolated_and_migration_pods_accept_nothing(by_kind):
    for (kind, _), template in pod_specs(by_kind).items():
        sources = allowed_sources(by_kind, template["metadata"]["labels"])
        assert sources is not None
        if kind == "Job":
            assert sources == set()
