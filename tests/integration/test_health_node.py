"""Health on a real node (kubelet, containerd, runc): a Deployment whose pod runs is Healthy on the next run, and
one whose image is not on the node is not, with the object and the reason named in its condition."""

from __future__ import annotations

import json
import time
from typing import Any

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


def test_a_rollout_wave_waits_for_the_pods_of_the_last_and_halts_on_one_that_never_becomes_ready(
    node: Node, helmcr: Helmcr, caches: Resources, kube: client.ApiClient, namespace: str
) -> None:
    def configure(**overrides: Any) -> None:
        rollout = {"canary": 1, "wave": 2, "failureBudget": 0, "healthTimeout": "20s"}
        watch = cache_watch(chart=str(SLEEPER), health=True, rollout=rollout, overrideValues=overrides)
        helmcr.configure([watch])

    def run() -> dict[str, dict[str, Any]]:
        done = helmcr.sync("-n", namespace, "-o", "json")
        assert done.exit_code in (0, 1), done.stdout + done.stderr
        return {o["name"]: o for o in json.loads(done.stdout)["outcomes"]}

    def all_available() -> bool:
        apps = client.AppsV1Api(kube)
        found = [apps.read_namespaced_deployment(f"{name}-sleeper", namespace) for name in "abc"]
        return all(kube.sanitize_for_serialization(d).get("status", {}).get("availableReplicas") for d in found)

    configure(image=node.pause_image)
    for name in "abc":
        caches.create(name, {})
    assert {o["action"] for o in run().values()} == {"install"}
    wait_for(all_available, "the three releases' pods to run on the node")

    configure(image=node.pause_image, replicas=1)  # a kind-wide change that keeps the pods as they are
    canary = run()
    assert (canary["a"]["action"], canary["b"]["state"], canary["c"]["state"]) == (
        "upgrade",
        "rollout-queued",
        "rollout-queued",
    )
    wave = run()  # the canary's pod is ready, so the next wave goes
    assert (wave["b"]["action"], wave["c"]["action"]) == ("upgrade", "upgrade"), wave

    configure(image="localhost/not-on-this-node:1", replicas=1)  # a kind-wide change whose pods never start
    assert run()["a"]["action"] == "upgrade"
    waiting = run()
    assert waiting["b"]["state"] == "rollout-queued" and "not healthy yet" in waiting["b"]["reason"], waiting["b"]
    time.sleep(21)  # past healthTimeout: the canary that never became ready is a failure
    halted = run()
    assert (halted["b"]["state"], halted["c"]["state"]) == ("rollout-halted", "rollout-halted")
    assert f"{namespace}/a" in halted["b"]["reason"] and "failure budget" in halted["b"]["reason"]
    assert "rollout halted" in caches.get("b")["status"]["message"]
    kept = kube.sanitize_for_serialization(client.AppsV1Api(kube).read_namespaced_deployment("b-sleeper", namespace))
    assert kept["spec"]["template"]["spec"]["containers"][0]["image"] == node.pause_image, (
        "the halted wave kept its pods"
    )
