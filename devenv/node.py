"""A real node on loopback: containerd, runc, a kubelet and kube-scheduler joined to a :class:`ControlPlane`.

helmcr's main deployment is a CronJob; only a real node shows that its pod is admitted, gets in-cluster credentials,
runs with a read-only root filesystem as a non-root user and converges releases. The node keeps the machine's
loopback rule by construction (see :func:`devenv.nodeconfig.loopback_policy`): pods run only with images the
environment built and imported, on the host's network where everything listens on 127.0.0.1, and pulls go to a black
hole.

The kubelet and containerd use fixed host paths, so there is one node per machine: a lock says whose it is, and a run
that was killed is cleaned up by the next (:mod:`devenv.nodehost`). Root only.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import IO

from kubernetes import client

from devenv import binaries, nodehost, ocilayout, processes
from devenv.controlplane import SERVICE_CLUSTER_IP_RANGE, ControlPlane, free_port
from devenv.nodeconfig import (
    LOOPBACK_ONLY_CNI,
    NODE_NAME,
    REGISTRY_HOSTS,
    NodePaths,
    containerd_config,
    kubelet_config,
    loopback_policy,
)
from devenv.processes import ProcessRecord

NODE_ROOT = Path(tempfile.gettempdir()) / "helmcr-node"
LOCK_PATH = Path(tempfile.gettempdir()) / "helmcr-node.lock"
CGROUP = "helmcr-node"
CONTAINERD_NAMESPACE = "k8s.io"
POLL_SECONDS = 0.2


class NodeError(RuntimeError):
    """The node did not start, or an image could not be imported; the message ends with the relevant log tail."""


class Node:
    """One Ready node for ``plane``; a context manager that leaves nothing behind on the host."""

    def __init__(
        self,
        plane: ControlPlane,
        *,
        ready_timeout: float = 120.0,
        grace_seconds: float = 10.0,
        lock_timeout: float = 900.0,
        root: Path = NODE_ROOT,
    ) -> None:
        self.plane = plane
        self.paths = NodePaths(root)
        self.ready_timeout = ready_timeout
        self.grace_seconds = grace_seconds
        self.lock_timeout = lock_timeout
        self.phase_seconds: dict[str, float] = {}
        self.startup_seconds = 0.0
        self._lock: IO[str] | None = None
        self._processes: dict[str, subprocess.Popen[bytes]] = {}
        self._imported: set[str] = set()
        self._ctr_binary = Path("ctr")
        self._started = False
        self._stopped = False

    def __enter__(self) -> Node:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    # --- public API -------------------------------------------------------------------------------------------------

    @property
    def pause_image(self) -> str:
        return f"localhost/helmcr-pause:{binaries.version('kubernetes-node')}"

    def log_path(self, component: str) -> Path:
        return self.paths.logs / f"{component}.log"

    def import_image(self, archive: Path) -> None:
        """Load an image archive into the node's containerd, once per archive: pods may then use it (never pulled)."""
        if str(archive) in self._imported:
            return
        process = self._ctr("images", "import", "--snapshotter", "overlayfs", str(archive))
        if process.returncode != 0:
            raise NodeError(f"importing {archive} into the node failed: {process.stderr.strip()}")
        self._imported.add(str(archive))

    def start(self) -> Node:
        if self._started:
            raise NodeError("a Node can be started only once")
        self._started = True
        started = time.monotonic()
        commands = self._resolve_binaries()  # may build for minutes: before anything needs cleaning up
        self._take_lock()
        atexit.register(self.stop)
        try:
            self._clean_stale()
            self._start_all(commands)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = round(time.monotonic() - started, 2)
        return self

    def stop(self) -> None:
        """Drain the node's pods while the kubelet runs (it unmounts their volumes), stop the components, then undo
        what they did to the host. Idempotent."""
        if self._stopped or not self._started:
            return
        self._stopped = True
        atexit.unregister(self.stop)
        try:
            if "kubelet" in self._processes and self._processes["kubelet"].poll() is None:
                self._drain_or_say_why()
            processes.terminate(reversed(list(self._processes.values())), self.grace_seconds)
            nodehost.undo(self.paths.root, self.paths.host_record)
        finally:
            self._release_lock()

    # --- startup ----------------------------------------------------------------------------------------------------

    def _resolve_binaries(self) -> dict[str, Path]:
        return {
            "containerd": binaries.binary("containerd", "containerd"),
            "ctr": binaries.binary("containerd", "ctr"),
            "runc": binaries.binary("runc", "runc"),
            "loopback": binaries.binary("cni-plugins", "loopback"),
            "kubelet": binaries.binary("kubernetes-node", "kubelet"),
            "kube-scheduler": binaries.binary("kubernetes-node", "kube-scheduler"),
            "pause": binaries.binary("kubernetes-node", "pause"),
        }

    def _start_all(self, commands: dict[str, Path]) -> None:
        self._ctr_binary = commands["ctr"]  # every later ctr call (imports by the tests) goes to this node
        with self._phase("host"):
            self.paths.logs.mkdir(parents=True)
            record = nodehost.HostRecord.take(CGROUP, blackholes=[SERVICE_CLUSTER_IP_RANGE])
            record.save(self.paths.host_record)
            nodehost.create_cgroups(CGROUP)
            nodehost.add_blackholes(record)
        with self._phase("containerd"):
            self._start_containerd(commands)
        with self._phase("pause image"):
            self.import_image(self._pause_archive(commands["pause"]))
        with self._phase("cluster objects"):
            self._apply_cluster_objects()
        with self._phase("kubelet"):
            self._start_kubelet(commands["kubelet"])
        with self._phase("kube-scheduler"):
            self._start_scheduler(commands["kube-scheduler"])
        with self._phase("node ready"):
            self._wait_until("kubelet", self._node_ready)

    @contextlib.contextmanager
    def _phase(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        yield
        self.phase_seconds[name] = round(time.monotonic() - started, 2)

    def _start_containerd(self, commands: dict[str, Path]) -> None:
        paths = self.paths
        for directory in (paths.containerd_root, paths.containerd_state, paths.cni_conf, paths.registry_hosts):
            directory.mkdir(parents=True, exist_ok=True)
        (paths.cni_conf / "10-loopback-only.conflist").write_text(LOOPBACK_ONLY_CNI)
        (paths.registry_hosts / "_default").mkdir()
        (paths.registry_hosts / "_default" / "hosts.toml").write_text(REGISTRY_HOSTS)
        paths.containerd_config.write_text(
            containerd_config(paths, commands["runc"], commands["loopback"].parent, self.pause_image)
        )
        self._launch("containerd", [str(commands["containerd"]), "--config", str(paths.containerd_config)])
        nodehost.join_cgroups(CGROUP, self._processes["containerd"].pid)  # its shims follow it there
        self._wait_until("containerd", lambda: self._ctr("version").returncode == 0)

    def _pause_archive(self, pause: Path) -> Path:
        archive = self.paths.images / "pause.tar"
        files = [ocilayout.ImageFile("/pause", pause.read_bytes())]
        return ocilayout.write_image(archive, self.pause_image, files, ["/pause"], user="65535:65535")

    def _apply_cluster_objects(self) -> None:
        document = json.dumps({"apiVersion": "v1", "kind": "List", "items": loopback_policy(self._api_port())})
        process = subprocess.run(
            [str(binaries.kubectl_binary()), "--kubeconfig", str(self.plane.kubeconfig), "apply", "-f", "-"],
            input=document,
            capture_output=True,
            text=True,
            check=False,
        )
        if process.returncode != 0:
            raise NodeError(f"applying the node's loopback policy failed: {process.stderr.strip()}")

    def _api_port(self) -> int:
        return int(self.plane.server.rsplit(":", 1)[1])

    def _start_kubelet(self, kubelet: Path) -> None:
        paths = self.paths
        paths.kubelet_certs.mkdir()
        self.plane.user_kubeconfig(paths.kubelet_kubeconfig, f"system:node:{NODE_NAME}", ("system:nodes",))
        paths.kubelet_config.write_text(kubelet_config(paths, CGROUP))
        self._launch(
            "kubelet",
            [
                str(kubelet),
                f"--config={paths.kubelet_config}",
                f"--kubeconfig={paths.kubelet_kubeconfig}",
                f"--root-dir={paths.kubelet_root}",
                f"--cert-dir={paths.kubelet_certs}",
                # --node-ip may not be loopback; without the override the node's address would be the outward one.
                f"--hostname-override={NODE_NAME}",
                "--v=1",
            ],
        )

    def _start_scheduler(self, scheduler: Path) -> None:
        admin = str(self.plane.kubeconfig)
        self._launch(
            "kube-scheduler",
            [
                str(scheduler),
                f"--kubeconfig={admin}",
                f"--authentication-kubeconfig={admin}",
                f"--authorization-kubeconfig={admin}",
                "--leader-elect=false",
                "--bind-address=127.0.0.1",
                f"--secure-port={free_port(set())}",
            ],
        )

    def _node_ready(self) -> bool:
        with self.plane.admin_client() as api:
            try:
                node = client.CoreV1Api(api).read_node(NODE_NAME)
            except client.ApiException as error:
                if error.status == 404:
                    return False
                raise
        conditions = (node.status.conditions if node.status else None) or []
        return any(c.type == "Ready" and c.status == "True" for c in conditions)

    def _launch(self, name: str, argv: list[str]) -> None:
        self._processes[name] = processes.spawn(argv, self.log_path(name), self._environment())
        self._write_owner()

    def _environment(self) -> dict[str, str]:
        """containerd finds its shim on PATH; nothing of the caller's environment (proxies, KUBECONFIG) leaks in."""
        shim_dir = binaries.binary("containerd", "containerd-shim-runc-v2").parent
        return {"PATH": os.pathsep.join((str(shim_dir), "/usr/sbin", "/usr/bin", "/sbin", "/bin")), "HOME": "/root"}

    def _wait_until(self, name: str, ready: Callable[[], bool]) -> None:
        processes.wait_ready(name, self._processes[name], ready, self.log_path(name), self.ready_timeout, NodeError)

    def _ctr(self, *args: str) -> subprocess.CompletedProcess[str]:
        argv = [str(self._ctr_binary), "--address", str(self.paths.containerd_sock), "-n", CONTAINERD_NAMESPACE]
        return subprocess.run([*argv, *args], capture_output=True, text=True, check=False, timeout=300)

    # --- one node per machine ---------------------------------------------------------------------------------------

    def _take_lock(self) -> None:
        """Wait for a node of another run to stop (the kernel drops the lock of a run that died)."""
        lock = LOCK_PATH.open("a+")
        deadline = time.monotonic() + self.lock_timeout
        told = False
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError as held:
                if time.monotonic() > deadline:
                    lock.close()
                    raise NodeError(
                        f"another run holds the node ({LOCK_PATH}) after {self.lock_timeout:.0f} s"
                    ) from held
                if not told:
                    print(f"devenv: waiting for the node of another run to stop ({LOCK_PATH})", file=sys.stderr)
                    told = True
                time.sleep(1.0)
        self._lock = lock

    def _release_lock(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def _write_owner(self) -> None:
        records = [ProcessRecord.of(process.pid) for process in self._processes.values()]
        children = [record.to_json() for record in records if record is not None]
        self.paths.owner.write_text(json.dumps({"children": children}) + "\n")

    def _clean_stale(self) -> None:
        remove_leftovers(self.paths)

    # --- teardown ---------------------------------------------------------------------------------------------------

    def _drain_or_say_why(self) -> None:
        """Draining needs the API server; without it the kubelet cannot unmount, and the undo below does instead."""
        try:
            self._drain()
        except Exception as error:  # an API server already gone: any client error, none of which may stop the undo
            print(f"devenv: could not drain the node's pods ({error}); removing them by hand", file=sys.stderr)

    def _drain(self) -> None:
        """Delete the node's pods and wait (bounded) for the kubelet to confirm: it tears down their mounts."""
        with self.plane.admin_client() as api:
            core = client.CoreV1Api(api)
            selector = f"spec.nodeName={NODE_NAME}"
            for pod in core.list_pod_for_all_namespaces(field_selector=selector).items:
                name, namespace = str(pod.metadata and pod.metadata.name), str(pod.metadata and pod.metadata.namespace)
                with contextlib.suppress(client.ApiException):
                    core.delete_namespaced_pod(name, namespace, grace_period_seconds=1)
            deadline = time.monotonic() + 30
            while core.list_pod_for_all_namespaces(field_selector=selector).items and time.monotonic() < deadline:
                time.sleep(POLL_SECONDS)


def remove_leftovers(paths: NodePaths) -> None:
    """Whatever a killed run left: its processes, then its mounts, cgroups, sysctls and files. Call with the lock."""
    if paths.owner.exists():
        children = json.loads(paths.owner.read_text())["children"]
        processes.kill_stale(ProcessRecord.from_json(child) for child in children)
    if paths.root.exists():
        print(f"devenv: removing the node a killed run left in {paths.root}", file=sys.stderr)
        nodehost.undo(paths.root, paths.host_record)


def clean_stale(root: Path = NODE_ROOT) -> None:
    """What ``make cluster-down`` calls: remove a dead run's node, unless a live run holds the lock."""
    with LOCK_PATH.open("a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return
        remove_leftovers(NodePaths(root))
