"""The node of the test environment: pods of images built here run, others stay Pending, and stopping it (or the next
start, after a run that was killed) leaves no process, mount, cgroup, sysctl or host path behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes import client

from devenv import binaries, nodehost
from devenv.controlplane import SERVICE_CLUSTER_IP_RANGE, ControlPlane
from devenv.node import CGROUP, NODE_ROOT, Node
from devenv.nodeconfig import TAINT_KEY
from tests.integration.node_fixtures import NodeSlot
from tests.integration.support import REPO, kubectl, wait_for

NODE_COMPONENTS = ("kubernetes-node", "containerd", "runc")


@dataclass(frozen=True)
class HostState:
    sysctls: dict[str, str]
    fixed_paths: set[str]
    routes: str

    @classmethod
    def read(cls) -> HostState:
        record = nodehost.HostRecord.take(CGROUP, blackholes=[])
        return cls(record.sysctls, set(record.existing_paths), service_range_routes())


def service_range_routes() -> str:
    shown = subprocess.run(["ip", "route", "show", SERVICE_CLUSTER_IP_RANGE], capture_output=True, text=True)
    return shown.stdout.strip()


def node_processes() -> list[str]:
    """Processes running a binary of the node (the pause binary included): none may outlive it."""
    directories = [str(binaries.ensure_built(name)) for name in NODE_COMPONENTS]
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                executable = os.readlink(entry / "exe")
            except OSError:
                continue
            if any(executable.startswith(directory) for directory in directories) or executable == "/pause":
                found.append(f"{entry.name}: {executable}")
    return found


def leftovers(before: HostState) -> list[str]:
    after = HostState.read()
    problems = [f"process {process}" for process in node_processes()]
    problems += [f"mount {point}" for point in nodehost.mounts_under(NODE_ROOT)] if NODE_ROOT.exists() else []
    problems += [f"cgroup {d}" for d in nodehost.cgroup_dirs(CGROUP) if d.exists()]
    changed = {name: value for name, value in after.sysctls.items() if before.sysctls[name] != value}
    problems += [f"sysctl {name}={value} (was {before.sysctls[name]})" for name, value in changed.items()]
    problems += [f"path {p} appeared" for p in after.fixed_paths - before.fixed_paths]
    problems += [f"route {after.routes!r} (was {before.routes!r})"] if after.routes != before.routes else []
    problems += [f"{NODE_ROOT} still exists"] if NODE_ROOT.exists() else []
    return problems


def pod(name: str, image: str) -> dict[str, Any]:
    """A pod with a projected token and an emptyDir: the mounts the kubelet must take down again."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "containers": [{"name": "main", "image": image, "volumeMounts": [{"name": "scratch", "mountPath": "/s"}]}],
            "volumes": [{"name": "scratch", "emptyDir": {}}],
        },
    }


def read_pod(kube: client.ApiClient, namespace: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = kube.sanitize_for_serialization(client.CoreV1Api(kube).read_namespaced_pod(name, namespace))
    return found


def create(kubeconfig: Path, namespace: str, manifest: dict[str, Any]) -> None:
    created = kubectl(kubeconfig, "create", "-n", namespace, "-f", "-", stdin=json.dumps(manifest))
    assert created.returncode == 0, created.stderr


def test_node_runs_pods_of_local_images_only_and_leaves_nothing_behind(
    node_slot: NodeSlot, control_plane: ControlPlane, kube: client.ApiClient, namespace: str
) -> None:
    node_slot.release()
    before = HostState.read()
    with Node(control_plane) as node:
        create(control_plane.kubeconfig, namespace, pod("local", node.pause_image))
        create(control_plane.kubeconfig, namespace, pod("foreign", "docker.io/library/busybox:1"))
        wait_for(lambda: read_pod(kube, namespace, "local")["status"]["phase"] == "Running", "a local image's pod")
        running = read_pod(kube, namespace, "local")
        assert running["spec"]["hostNetwork"] and running["spec"]["nodeName"] == "127.0.0.1"
        env = {e["name"]: e["value"] for e in running["spec"]["containers"][0]["env"]}
        assert env["KUBERNETES_SERVICE_HOST"] == "127.0.0.1"
        assert service_range_routes().startswith("blackhole"), "the Service range must not leave the machine"
        assert nodehost.mounts_under(NODE_ROOT), "the pod's volumes should be mounted under the node's directory"
        foreign = read_pod(kube, namespace, "foreign")
        assert foreign["status"]["phase"] == "Pending" and "nodeName" not in foreign["spec"]
        assert "untolerated taint" in " ".join(c.get("message", "") for c in foreign["status"]["conditions"])
        assert TAINT_KEY not in {t.get("key") for t in foreign["spec"].get("tolerations", [])}
    assert leftovers(before) == []


def test_a_node_stopped_while_the_api_server_is_down_still_leaves_nothing_behind(
    node_slot: NodeSlot, control_plane: ControlPlane, kube: client.ApiClient, namespace: str
) -> None:
    """No API server, no drain: the kubelet cannot take its pods down, so the stop does it by hand."""
    node_slot.release()
    before = HostState.read()
    node = Node(control_plane).start()
    try:
        create(control_plane.kubeconfig, namespace, pod("orphaned", node.pause_image))
        wait_for(lambda: read_pod(kube, namespace, "orphaned")["status"]["phase"] == "Running", "the pod to run")
        control_plane.stop_component("kube-apiserver")
        node.stop()
    finally:
        control_plane.start_component("kube-apiserver")
        node.stop()
    assert leftovers(before) == []


KILLED_RUN = """
import sys, time
from kubernetes import client
from devenv.controlplane import SERVICE_CLUSTER_IP_RANGE, ControlPlane
from devenv.node import Node
with ControlPlane() as plane, Node(plane) as node:
    core = client.CoreV1Api(plane.admin_client())
    while True:
        try:
            core.read_namespaced_service_account("default", "default")
            break
        except client.ApiException:
            time.sleep(0.2)
    core.create_namespaced_pod("default", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "orphan"},
        "spec": {"containers": [{"name": "main", "image": node.pause_image}]}})
    while core.read_namespaced_pod("orphan", "default").status.phase != "Running":
        time.sleep(0.2)
    print("running", flush=True)
    time.sleep(600)
"""


def test_the_next_start_removes_what_a_killed_run_left(node_slot: NodeSlot, control_plane: ControlPlane) -> None:
    node_slot.release()
    before = HostState.read()
    killed = subprocess.Popen(
        [sys.executable, "-c", KILLED_RUN], cwd=REPO, stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert killed.stdout is not None and killed.stdout.readline().strip() == "running"
    finally:
        os.killpg(killed.pid, signal.SIGKILL)
        killed.wait()
    deadline = time.monotonic() + 10  # the kubelet and containerd die with their parent; shims and pods do not
    while any("containerd-shim" not in p and "/pause" not in p for p in node_processes()):
        assert time.monotonic() < deadline, node_processes()
        time.sleep(0.1)
    assert node_processes(), "a shim and its pod should have outlived the killed run"
    with Node(control_plane):
        pass
    assert leftovers(before) == []
