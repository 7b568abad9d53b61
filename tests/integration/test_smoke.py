"""Smoke tests of the test environment itself: the control plane, both helms, kubectl, RBAC.

If these fail, no other integration test can be trusted; if they pass, the environment behaves like a real cluster for
everything helm needs short of running Pods (there is no scheduler or kubelet: Pods stay Pending, so no ``--wait``).
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, config

from devenv import binaries
from devenv.controlplane import ControlPlane
from devenv.helmcli import Helm
from devenv.paths import shared_charts_dir
from tests.integration.support import bind_role, service_account

RELEASE = "cache"
OBJECT_NAME = "cache-memcached"  # <release>-<chart name>, from the chart's fullname helper
# The chart's only hook is a post-install/post-upgrade PodDisruptionBudget in policy/v1beta1, an API removed in
# Kubernetes 1.25: with hooks, every install fails after creating its resources. The smoke test is about helm and the
# cluster, not about that chart's age, so it runs without hooks.
NO_HOOKS = "--no-hooks"


def memcached_chart() -> Path:
    chart = shared_charts_dir() / "memcached"
    assert (chart / "Chart.yaml").is_file(), f"shared memcached chart not found at {chart} (set HELMCR_SHARED_CHARTS)"
    return chart


def values_file(path: Path, values: dict[str, Any]) -> str:
    """Values always go to helm in a file (project rule), never by --set."""
    path.write_text(yaml.safe_dump(values))
    return str(path)


def release_status(helm: Helm, namespace: str) -> tuple[str, int]:
    status = json.loads(helm.run("status", RELEASE, "-n", namespace, "-o", "json").stdout)
    return status["info"]["status"], status["version"]


def statefulset_replicas(apps: client.AppsV1Api, namespace: str) -> int | None:
    statefulset = apps.read_namespaced_stateful_set(OBJECT_NAME, namespace)
    assert statefulset.spec is not None
    return statefulset.spec.replicas


def wait_until_gone(read: Callable[[], object], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            read()
        except client.ApiException as error:
            if error.status == 404:
                return
            raise
        time.sleep(0.1)
    pytest.fail(f"object still present after {timeout:.0f} s")


def test_install_upgrade_uninstall(helm: Helm, namespace: str, kube: client.ApiClient, tmp_path: Path) -> None:
    apps, core = client.AppsV1Api(kube), client.CoreV1Api(kube)
    chart = str(memcached_chart())

    helm.run(
        "install",
        RELEASE,
        chart,
        "-n",
        namespace,
        NO_HOOKS,
        "-f",
        values_file(tmp_path / "install.yaml", {"replicaCount": 1}),
    )
    assert statefulset_replicas(apps, namespace) == 1
    assert core.read_namespaced_service(OBJECT_NAME, namespace).spec is not None
    assert release_status(helm, namespace) == ("deployed", 1)

    helm.run(
        "upgrade",
        RELEASE,
        chart,
        "-n",
        namespace,
        NO_HOOKS,
        "-f",
        values_file(tmp_path / "upgrade.yaml", {"replicaCount": 2}),
    )
    assert statefulset_replicas(apps, namespace) == 2
    assert release_status(helm, namespace) == ("deployed", 2)

    helm.run("uninstall", RELEASE, "-n", namespace)
    wait_until_gone(lambda: apps.read_namespaced_stateful_set(OBJECT_NAME, namespace))
    wait_until_gone(lambda: core.read_namespaced_service(OBJECT_NAME, namespace))
    assert helm.run("status", RELEASE, "-n", namespace, check=False).returncode != 0


def test_rbac_is_enforced_for_service_accounts(
    control_plane: ControlPlane, kube: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    service_account(kube, namespace, "bot")
    kubeconfig = control_plane.service_account_kubeconfig(namespace, "bot", tmp_path / "bot.kubeconfig")

    with config.new_client_from_config(config_file=str(kubeconfig)) as as_bot:
        review = client.AuthenticationV1Api(as_bot).create_self_subject_review(client.V1SelfSubjectReview())
        assert review.status is not None and review.status.user_info is not None
        assert review.status.user_info.username == f"system:serviceaccount:{namespace}:bot"  # authenticated: no 401
        bot_core = client.CoreV1Api(as_bot)
        for list_objects in (bot_core.list_namespaced_pod, bot_core.list_namespaced_secret):
            with pytest.raises(client.ApiException) as denied:
                list_objects(namespace)
            assert denied.value.status == 403

        # A Role granting pods (only) is honoured: RBAC decides, not a blanket deny.
        pods = client.V1PolicyRule(api_groups=[""], resources=["pods"], verbs=["list"])
        bind_role(kube, namespace, "pod-reader", [pods], "bot")
        eventually(lambda: bot_core.list_namespaced_pod(namespace))
        with pytest.raises(client.ApiException) as still_denied:
            bot_core.list_namespaced_secret(namespace)
        assert still_denied.value.status == 403


def eventually(call: Callable[[], object], timeout: float = 10.0) -> None:
    """Retry ``call`` while it is forbidden: the RBAC authorizer sees new bindings through an informer, not at once."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            call()
            return
        except client.ApiException as error:
            if error.status != 403 or time.monotonic() > deadline:
                raise
        time.sleep(0.1)


def test_kubernetes_version_is_pinned(kube: client.ApiClient) -> None:
    assert client.VersionApi(kube).get_code().git_version == binaries.version("kubernetes")


def test_helm_version_is_pinned(helm: Helm) -> None:
    printed = helm.run("version", "--template", "{{.Version}}").stdout.strip()
    assert printed == binaries.version(f"helm{helm.major}")


def test_kubectl_version_is_pinned() -> None:
    printed = subprocess.run(
        [str(binaries.kubectl_binary()), "version", "--client", "-o", "json"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert json.loads(printed)["clientVersion"]["gitVersion"] == binaries.version("kubernetes")
