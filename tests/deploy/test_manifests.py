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
MONITORING_NAMESPACE = "monitoring"
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
    targets = [p["targetPort"] for p in service["spec"]["ports"]]
    # The gateway's internal listener: the services' calls (GATEWAY_INTERNAL_BIND).
    assert targets == (["http", "internal"] if project == "gateway" else ["http"])
    assert set(targets) <= set(ports)
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
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
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


@pytest.mark.parametrize("project", PROJECTS)
def test_shutdown_drains_and_sigkill_waits_for_gunicorn(by_kind, config, project):
    """preStop, then SIGTERM: /readyz 503 for the drain (seen by the readiness
    probe within it), then the requests in flight get up to the longest one's
    time; the kubelet's SIGKILL comes only after gunicorn's own deadline."""
    pod = by_kind["Deployment"][project]["spec"]["template"]["spec"]
    container = web(by_kind, project)
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    pre_stop = int(command[1])
    drain = int(config["GUNICORN_DRAIN_SECONDS"])
    graceful = int(config["GUNICORN_GRACEFUL_TIMEOUT"])
    longest_request = int(config["GUNICORN_TIMEOUT"])
    readiness = container["readinessProbe"]
    assert readiness["periodSeconds"] * readiness["failureThreshold"] <= drain
    assert graceful >= drain + longest_request
    assert pod["terminationGracePeriodSeconds"] > pre_stop + graceful


# -- configuration and secrets --------------------------------------------------
def test_no_secret_in_the_manifests(objects, by_kind, config):
    assert not [o for o in objects if o["kind"] == "Secret"]
    assert not [key for key in config if SECRET_ENV.search(key)]
    for template in pod_specs(by_kind).values():
        for container in containers(template):
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


def test_orders_and_the_gateways_provisioning_share_the_client_secret(by_kind, config):
    """The orders pods and the reconciler authenticate at the gateway's token
    endpoint with the secret the gateway's Job provisions client "orders" with:
    one Secret."""
    ref = ("orders-client", "ORDERS_CLIENT_SECRET")
    job = by_kind["Job"]["gateway-migrate"]["spec"]["template"]
    provision = next(
        c for c in containers(job) if "provision_clients" in c.get("command", [])
    )
    reconcile = by_kind["CronJob"]["orders-reconcile-reservations"]["spec"]
    (reconciler,) = containers(reconcile["jobTemplate"]["spec"]["template"])
    readers = {
        "orders web": web(by_kind, "orders"),
        "gateway provisioning": provision,
        "reconciler": reconciler,
    }
    for name, container in readers.items():
        assert secret_env(container).get("ORDERS_CLIENT_SECRET") == ref, name
        entry = next(e for e in container["env"] if e["name"] == "ORDERS_CLIENT_SECRET")
        assert entry["valueFrom"]["secretKeyRef"].get("optional") is not True
    # Nobody else holds it, and it is never a literal or in the ConfigMap.
    for template in pod_specs(by_kind).values():
        for container in containers(template):
            if any(container is reader for reader in readers.values()):
                continue
            assert "ORDERS_CLIENT_SECRET" not in secret_env(container), (
                name,
                container,
            )
            assert "ORDERS_CLIENT_SECRET" not in literal_env(container)
    assert "ORDERS_CLIENT_SECRET" not in config


def test_the_gateway_job_provisions_the_clients_after_migrating(by_kind):
    job = by_kind["Job"]["gateway-migrate"]["spec"]["template"]["spec"]
    (migrate,) = job["initContainers"]  # run to completion first
    assert migrate["command"][-2:] == ["migrate", "--noinput"]
    assert [c["command"] for c in job["containers"]] == [
        ["python", "manage.py", "provision_clients"]
    ]


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


def test_the_services_reach_the_gateway_on_its_internal_listener(by_kind, config):
    """The JWKS, the revocation feed and the token exchange: at
    GATEWAY_INTERNAL_URL (their defaults' base), through the gateway's Service to
    the port its internal listener binds, which the NetworkPolicy opens to the
    services' web pods only; no container overrides any of them."""
    url = config["GATEWAY_INTERNAL_URL"]
    assert urlsplit(url).path == ""
    deployment, port = in_cluster_target(by_kind, url)
    assert (deployment, port) == ("gateway", "internal")
    container = web(by_kind, "gateway")
    (internal,) = [p for p in container["ports"] if p["name"] == port]
    bind = literal_env(container)["GATEWAY_INTERNAL_BIND"]
    assert bind == f"0.0.0.0:{internal['containerPort']}"
    followers = {"JWT_JWKS_URL", "REVOCATION_FEED_URL"}
    assert not followers & set(config)  # their defaults follow GATEWAY_INTERNAL_URL
    overrides = {"GATEWAY_INTERNAL_URL", *followers}
    for project in PROJECTS:
        env = literal_env(web(by_kind, project)) | secret_env(web(by_kind, project))
        assert not overrides & set(env), project
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
    assert opened == {f"Deployment:{name}" for name in PROJECTS if name != "gateway"}


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
    job = by_kind["Job"][f"{project}-migrate"]["spec"]["template"]
    assert job["spec"]["restartPolicy"] == "Never"
    assert containers(job)[0]["command"] == [
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
        path["backend"]["service"]
        for ingress in by_kind["Ingress"].values()
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    ]
    # Its public port: never the internal listener's.
    assert backends == [{"name": "gateway", "port": {"name": "http"}}]
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
    # Prometheus scrapes /metrics of every web pod (docs/observability.md).
    scraper = f"namespace:{MONITORING_NAMESPACE}"
    assert allowed_sources(by_kind, web_pods["orders"]) == {
        "Deployment:gateway",
        scraper,
    }
    assert allowed_sources(by_kind, web_pods["customers"]) == {
        "Deployment:gateway",
        "Deployment:orders",
        scraper,
        "CronJob:orders-reconcile-reservations",
    }
    # The ingress controller, the services (the JWKS, the revocation feed) and
    # the reconciler (the orders client's token).
    assert allowed_sources(by_kind, web_pods["gateway"]) == {
        f"namespace:{INGRESS_CONTROLLER_NAMESPACE}",
        *(f"Deployment:{name}" for name in PROJECTS if name != "gateway"),
        scraper,
        "CronJob:orders-reconcile-reservations",
    }
    # Any other service (manage.py startservice): only the gateway.
    for name in set(PROJECTS) - {"gateway", "orders", "customers"}:
        assert allowed_sources(by_kind, web_pods[name]) == {"Deployment:gateway"}


def test_every_pod_is_isolated_and_migration_pods_accept_nothing(by_kind):
    for (kind, _), template in pod_specs(by_kind).items():
        sources = allowed_sources(by_kind, template["metadata"]["labels"])
        assert sources is not None
        if kind in ("Job", "CronJob"):
            assert sources == set()


# -- metrics --------------------------------------------------------------------------
@pytest.mark.parametrize("project", PROJECTS)
def test_prometheus_scrapes_each_web_pod_on_its_http_port(by_kind, project):
    template = by_kind["Deployment"][project]["spec"]["template"]
    annotations = template["metadata"]["annotations"]
    (http,) = [p for p in web(by_kind, project)["ports"] if p["name"] == "http"]
    assert annotations == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(http["containerPort"]),
        "prometheus.io/path": "/metrics",
    }


def test_every_project_protects_metrics_with_one_secret_token(by_kind, config):
    """Without METRICS_TOKEN /metrics answers loopback only, which in a pod is no
    scraper: each web container reads the one token, and fails without it."""
    for project in PROJECTS:
        container = web(by_kind, project)
        assert secret_env(container)["METRICS_TOKEN"] == (
            "metrics-token",
            "METRICS_TOKEN",
        )
        entry = next(e for e in container["env"] if e["name"] == "METRICS_TOKEN")
        assert entry["valueFrom"]["secretKeyRef"].get("optional") is not True
    assert "METRICS_TOKEN" not in config
    assert "METRICS_ENABLED" not in config


def test_the_scrape_policy_opens_the_http_port_to_monitoring_only(by_kind):
    policy = by_kind["NetworkPolicy"]["metrics-scrape"]["spec"]
    assert policy["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "web"
    assert policy["ingress"] == [
        {
            "from": [
                {
                    "namespaceSelector": {
                        "matchLabels": {
                            "kubernetes.io/metadata.name": MONITORING_NAMESPACE
                        }
                    }
                }
            ],
            "ports": [{"port": "http"}],
        }
    ]


# -- maintenance -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "project", "command"),
    [
        ("orders-reconcile-reservations", "orders", "reconcile_reservations"),
        ("gateway-purge", "gateway", "purge"),
        ("orders-purge", "orders", "purge"),
        ("customers-purge", "customers", "purge"),
    ],
)
def test_maintenance_cronjobs(by_kind, name, project, command):
    """One run at a time, the project's own settings, configuration and Secret."""
    cronjob = by_kind["CronJob"][name]["spec"]
    assert cronjob["concurrencyPolicy"] == "Forbid"
    job = cronjob["jobTemplate"]["spec"]
    assert job["activeDeadlineSeconds"] > 0
    (container,) = job["template"]["spec"]["containers"]
    assert container["command"] == ["python", "manage.py", command]
    assert literal_env(container)["DJANGO_SETTINGS_MODULE"] == (
        f"{PROJECTS[project]}.settings"
    )
    assert container["envFrom"] == [
        {"configMapRef": {"name": "access-token-config"}},
        {"secretRef": {"name": f"{project}-env"}},
    ]
    assert job["template"]["spec"]["restartPolicy"] == "Never"
