"""The gateway's migrate Job provisions client "orders" from the Secret the
orders pods read: run the Job's commands with its pod's environment, serve the
gateway as its pod does, and authenticate as the orders pod would (at the
gateway's internal listener, GATEWAY_INTERNAL_URL)."""

import subprocess
from urllib.parse import urlsplit

import requests

from devstack.stack import free_port
from tests.deploy.conftest import ROOT
from tests.deploy.pods import containers, literal_env, web
from tests.deploy.processes import (
    production_env,
    secret_key_stand_ins,
    serve,
)


def test_the_orders_pod_authenticates_with_what_the_job_provisioned(
    by_kind, config, tmp_path
):
    job = by_kind["Job"]["gateway-migrate"]["spec"]["template"]
    env = production_env(by_kind, config, "gateway", tmp_path)
    env.pop("REDIS_URL")  # no cluster Redis here: the throttle's file cache stands in
    for container in containers(job):  # initContainers first, as Kubernetes runs them
        subprocess.run(
            container["command"],
            cwd=ROOT,
            env={
                **env,
                **literal_env(container),
                **secret_key_stand_ins(container),
                "PATH": env["PATH"],
            },
            check=True,
            timeout=120,
            capture_output=True,
        )
    orders_secret = secret_key_stand_ins(web(by_kind, "orders"))["ORDERS_CLIENT_SECRET"]
    internal_port = free_port()
    with serve("gateway", env, internal_port=internal_port):
        response = requests.post(
            f"http://127.0.0.1:{internal_port}/auth/oauth/token/",
            data={"grant_type": "client_credentials"},
            auth=("orders", orders_secret),
            # in-cluster, plain http, as the orders pods call it
            headers={"Host": urlsplit(config["GATEWAY_INTERNAL_URL"]).netloc},
            timeout=10,
        )
    assert response.status_code == 200, response.text
