"""A team's operator-sdk watches.yaml taken as it is: --set path overrides, operator-sdk's status and
``kubectl wait --for=condition=Deployed``, its annotations warned about, and a deleted CR's objects collected by
Kubernetes before any run (owner references are on for a watches.yaml, as operator-sdk sets them)."""

from __future__ import annotations

from typing import Any

import yaml
from kubernetes import client

from devenv.controlplane import ControlPlane
from tests.integration.support import EXAMPLE_CHART, GROUP, VERSION, Helmcr, Resources, kubectl, wait_for


def test_a_watches_yaml_behaves_as_operator_sdk_users_expect(
    helmcr: Helmcr, caches: Resources, control_plane: ControlPlane, kube: client.ApiClient, namespace: str
) -> None:
    watches = [
        {
            "group": GROUP,
            "version": VERSION,
            "kind": caches.kind.kind,
            "chart": str(EXAMPLE_CHART),
            "overrideValues": {"image.tag": "1.6.39-alpine", "replicaCount": "2"},
            "reconcilePeriod": "1m",
        }
    ]
    helmcr.config.write_text(yaml.safe_dump(watches))
    caches.create("legacy", {"replicaCount": 1})
    caches.annotate("legacy", {"helm.sdk.operatorframework.io/upgrade-force": "true"})
    installed = helmcr.sync("-n", namespace, "-o", "json")
    assert installed.exit_code == 0, installed.stdout + installed.stderr
    warnings = " ".join(installed.report["warnings"])
    assert "reconcilePeriod" in warnings and "1 CR(s) carry helm.sdk.operatorframework.io/upgrade-force" in warnings

    statefulset: dict[str, Any] = kube.sanitize_for_serialization(
        client.AppsV1Api(kube).read_namespaced_stateful_set("legacy-memcached", namespace)
    )
    assert statefulset["spec"]["replicas"] == 2, "a --set path's string is typed as --set types it"
    assert statefulset["spec"]["template"]["spec"]["containers"][0]["image"] == "memcached:1.6.39-alpine"
    status = caches.get("legacy")["status"]
    assert status["deployedRelease"] == {"name": "legacy"}
    assert {c["type"]: c["reason"] for c in status["conditions"]}.items() >= {
        "Ready": "InstallSucceeded",
        "Initialized": "",
        "Deployed": "InstallSuccessful",
    }.items()
    waited = kubectl(
        control_plane.kubeconfig, "wait", "-n", namespace, "--for=condition=Deployed",
        f"{caches.kind.plural}.{GROUP}/legacy", "--timeout=5s",
    )  # fmt: skip
    assert waited.returncode == 0, waited.stderr

    caches.delete("legacy")
    apps = client.AppsV1Api(kube)
    wait_for(lambda: not apps.list_namespaced_stateful_set(namespace).items, "the garbage collector", timeout=60)
    uninstalled = helmcr.sync("-n", namespace, "-o", "json")
    assert uninstalled.exit_code == 0, uninstalled.stdout + uninstalled.stderr
    assert uninstalled.outcome("legacy")["action"] == "uninstall"
