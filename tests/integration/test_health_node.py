"""Health on a real node (kubelet, containerd, runc): a Deployment whose pod runs is Healthy on the next run, and
one whose image is not on the node is not, with the object and the reason named in its condition."""

from __future__ import annotations

from kubernetes import client

from devenv.controlplane import ControlPlane
from devenv.node import Node
from tests.integration.support import GROUP, REPO, Helmcr, Resources, cache_watch, kubectl, wait_for

SLEEPER = REPO / "tests" / "fixtures" / "charts" / "sleeper"


def test_health_is_judged_from_the_pods_the_node_runs(
    node: Node, helmcr: Helmcr, caches: Resources, control_plane: ControlPlane, kube: client.ApiClient, namespace: str
) -> None:
    helmcr.configure([cache_watch(chart=str(SLEEPER), health=True, drift={"mode": "correct"})])
    caches.create("up", {"image": node.pause_image})
    caches.create("down", {"image": "localhost/not-on-this-node:1"})
    installed = helmcr.sync("-n", namespace, "-o", "json")
    assert installed.exit_code == 0, installed.stdout + installed.stderr

    def available() -> int:
        found = client.AppsV1Api(kube).read_namespaced_deployment("up-sleeper", namespace)
        return int(kube.sanitize_for_serialization(found).get("status", {}).get("availableReplicas") or 0)

    wait_for(lambda: available() == 1, "the pod on the node to run")
    judged = helmcr.sync("-n", namespace, "-o", "json")
    assert judged.exit_code == 0, judged.stdout + judged.stderr
    assert judged.helm_processes == 0, "judging health starts no helm"
    up = {c["type"]: c for c in caches.get("up")["status"]["conditions"]}
    down = {c["type"]: c for c in caches.get("down")["status"]["conditions"]}
    assert (up["Healthy"]["status"], up["Healthy"]["reason"]) == ("True", "AllReady")
    assert (down["Healthy"]["status"], down["Healthy"]["reason"]) == ("False", "NotReady")
    assert down["Healthy"]["message"] == f"Deployment {namespace}/down-sleeper: 0 of 1 replicas available"
    assert up["Ready"]["status"] == down["Ready"]["status"] == "True", "helm applied both: Ready says only that"
    waited = kubectl(
        control_plane.kubeconfig,
        "wait",
        "-n",
        namespace,
        "--for=condition=Healthy",
        f"caches.{GROUP}/up",
        "--timeout=5s",
    )
    assert waited.returncode == 0, waited.stderr
