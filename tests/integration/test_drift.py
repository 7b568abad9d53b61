"""Drift and health against the real API server, with helm 3 and helm 4: a manual scale and a deleted object
are put back (operator-sdk's e2e does exactly this), an autoscaler's change is left alone, detect mode only
reports, and the pass costs one LIST per resource type and namespace, not a request per release or object."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from devenv.controlplane import ControlPlane
from devenv.helmcli import Helm
from tests.integration.support import (
    Helmcr,
    Resources,
    cache_watch,
    kubectl,
    releases,
    statefulset_replicas,
)

CORRECT = {"drift": {"mode": "correct"}, "health": True}


@pytest.fixture
def helmcr(tmp_path: Path, helm: Helm, control_plane: ControlPlane) -> Helmcr:
    runner = Helmcr(tmp_path, helm, control_plane.kubeconfig, audit_log=control_plane.audit_log)
    runner.configure([cache_watch(**CORRECT)])
    return runner


def conditions(caches: Resources, name: str) -> dict[str, tuple[str, str, str]]:
    found = caches.get(name)["status"]["conditions"]
    return {c["type"]: (c["status"], c["reason"], c["message"]) for c in found}


def scale(control_plane: ControlPlane, namespace: str, name: str, replicas: int) -> None:
    done = kubectl(control_plane.kubeconfig, "scale", "-n", namespace, f"statefulset/{name}", f"--replicas={replicas}")
    assert done.returncode == 0, done.stderr


def test_a_manual_scale_and_a_deleted_service_are_put_back_and_then_left_in_peace(
    helmcr: Helmcr, caches: Resources, control_plane: ControlPlane, kube: client.ApiClient, namespace: str, helm: Helm
) -> None:
    caches.create("alpha", {"replicaCount": 1})
    caches.create("beta", {"replicaCount": 1})
    installed = helmcr.sync("-n", namespace, "-o", "json")
    assert installed.exit_code == 0, installed.stderr

    scale(control_plane, namespace, "alpha-memcached", 2)
    client.CoreV1Api(kube).delete_namespaced_service("beta-memcached", namespace)
    previewed = helmcr.run(("diff",), "-n", namespace)
    assert previewed.exit_code == 0, previewed.stdout + previewed.stderr
    assert "live drift, restored by this upgrade: StatefulSet" in previewed.stdout
    assert "/spec/replicas: 1 → 2 (by kubectl)" in previewed.stdout and "is missing" in previewed.stdout
    # the objects' diff is live → rendered, as helm-diff's three-way mode shows it
    assert "-  replicas: 2" in previewed.stdout and "+  replicas: 1" in previewed.stdout
    assert f"--- /dev/null\n+++ Service {namespace}/beta-memcached (v1)" in previewed.stdout, "the deleted Service"
    assert statefulset_replicas(kube, namespace, "alpha-memcached") == 2, "a preview changes nothing"
    corrected = helmcr.sync("-n", namespace, "-o", "json")
    assert corrected.exit_code == 0, corrected.stdout + corrected.stderr
    alpha, beta = corrected.outcome("alpha"), corrected.outcome("beta")
    assert (alpha["state"], alpha["action"], alpha["result"]) == ("drifted", "upgrade", "succeeded")
    assert "StatefulSet" in alpha["reason"] and "/spec/replicas: 1 → 2 (by kubectl)" in alpha["reason"]
    assert (beta["state"], "Service" in beta["reason"] and "is missing" in beta["reason"]) == ("drifted", True)
    assert statefulset_replicas(kube, namespace, "alpha-memcached") == 1, "scaled back, on helm 3 and helm 4 alike"
    assert client.CoreV1Api(kube).read_namespaced_service("beta-memcached", namespace).metadata
    assert releases(helm, namespace) == {"alpha": (2, "deployed"), "beta": (2, "deployed")}
    assert conditions(caches, "alpha")["Drifted"][:2] == ("False", "Applied")

    # The pass reads each resource type of the namespace once per observation, however many releases share it (a
    # run that changes something observes twice: before it takes the run lease, and again under it).
    lists = Counter(
        event["objectRef"]["resource"]
        for event in corrected.requests
        if event["verb"] == "list" and event.get("objectRef", {}).get("namespace") == namespace
    )
    assert lists["statefulsets"] == lists["services"] == lists["caches"] == 2, lists
    gets = {e.get("objectRef", {}).get("resource", e["requestURI"]) for e in corrected.requests if e["verb"] == "get"}
    assert gets <= {"/api/v1", "/apis/apps/v1", "leases"}, "beyond discovery and the lease, nothing is read one by one"

    settled = helmcr.sync("-n", namespace, "-o", "json")
    assert settled.exit_code == 0, settled.stderr
    assert {o["name"]: o["state"] for o in settled.report["outcomes"]} == {"alpha": "in-sync", "beta": "in-sync"}
    assert settled.helm_processes == 0, "no drift, nothing for helm: a corrected release is not upgraded again"
    assert conditions(caches, "alpha")["Drifted"][:2] == ("False", "InSync")


def test_health_names_the_object_that_is_not_up_without_waiting_on_helm(
    helmcr: Helmcr, caches: Resources, namespace: str
) -> None:
    """No node runs this control plane's pods, so the StatefulSet never gets a ready replica: unhealthy, named."""
    caches.create("alpha", {"replicaCount": 1})
    installed = helmcr.sync("-n", namespace, "-o", "json")
    assert installed.exit_code == 0, installed.stderr
    assert conditions(caches, "alpha")["Healthy"][:2] == ("Unknown", "Applied")
    judged = helmcr.sync("-n", namespace, "-o", "json")
    assert judged.exit_code == 0, judged.stderr
    healthy, reason, message = conditions(caches, "alpha")["Healthy"]
    assert (healthy, reason) == ("False", "NotReady")
    assert message == f"StatefulSet {namespace}/alpha-memcached: 0 of 1 replicas ready"
    assert conditions(caches, "alpha")["Ready"][0] == "True", "helm's part went well: Ready stays True"


def test_detect_mode_reports_drift_in_status_and_an_event_and_changes_nothing(
    helmcr: Helmcr, caches: Resources, control_plane: ControlPlane, kube: client.ApiClient, namespace: str
) -> None:
    helmcr.configure([cache_watch(drift={"mode": "detect"})])
    caches.create("alpha", {"replicaCount": 1})
    assert helmcr.sync("-n", namespace).exit_code == 0
    scale(control_plane, namespace, "alpha-memcached", 3)
    reported = helmcr.sync("-n", namespace, "-o", "json")
    assert reported.exit_code == 0, reported.stderr
    assert (reported.outcome("alpha")["state"], reported.helm_processes) == ("drift-reported", 0)
    assert statefulset_replicas(kube, namespace, "alpha-memcached") == 3
    drifted, reason, message = conditions(caches, "alpha")["Drifted"]
    assert (drifted, reason) == ("True", "DriftDetected") and "/spec/replicas: 1 → 3 (by kubectl)" in message
    events = client.CoreV1Api(kube).list_namespaced_event(namespace, field_selector="involvedObject.name=alpha")
    assert {(e.reason, e.type) for e in events.items} >= {("DriftDetected", "Warning")}


def test_a_field_an_autoscaler_took_is_neither_drift_nor_fought(
    helmcr: Helmcr, caches: Resources, control_plane: ControlPlane, kube: client.ApiClient, namespace: str
) -> None:
    """The HorizontalPodAutoscaler writes the scale subresource as kube-controller-manager (no metrics server runs
    here, so the write is made as it would make it)."""
    caches.create("alpha", {"replicaCount": 1})
    assert helmcr.sync("-n", namespace).exit_code == 0
    client.AppsV1Api(kube).patch_namespaced_stateful_set_scale(
        "alpha-memcached", namespace, {"spec": {"replicas": 4}}, field_manager="kube-controller-manager"
    )
    left = helmcr.sync("-n", namespace, "-o", "json")
    assert (left.outcome("alpha")["state"], left.helm_processes) == ("in-sync", 0), left.outcome("alpha")["reason"]
    assert statefulset_replicas(kube, namespace, "alpha-memcached") == 4


@pytest.mark.parametrize("conflicts", ["force", "fail"])
def test_an_upgrade_after_a_manual_scale_follows_the_conflict_policy(
    conflicts: str,
    helmcr: Helmcr,
    caches: Resources,
    control_plane: ControlPlane,
    kube: client.ApiClient,
    namespace: str,
    helm: Helm,
) -> None:
    """Helm 4's server-side apply fails on a field kubectl took unless forced; Helm 3's three-way merge always
    overwrites it. ``force`` (the default) makes both behave the same."""
    helmcr.configure([cache_watch(conflicts=conflicts)])
    caches.create("alpha", {"replicaCount": 1})
    assert helmcr.sync("-n", namespace).exit_code == 0
    scale(control_plane, namespace, "alpha-memcached", 2)
    caches.patch_spec("alpha", {"port": 11311})
    upgraded = helmcr.sync("-n", namespace, "-o", "json")
    outcome: dict[str, Any] = upgraded.outcome("alpha")
    if conflicts == "force" or helm.major == 3:
        assert (upgraded.exit_code, outcome["result"]) == (0, "succeeded"), outcome
        assert statefulset_replicas(kube, namespace, "alpha-memcached") == 1
    else:
        assert (upgraded.exit_code, outcome["result"]) == (1, "failed")
        assert 'conflict with "kubectl"' in outcome["message"] and ".spec.replicas" in outcome["message"]
        assert statefulset_replicas(kube, namespace, "alpha-memcached") == 2
