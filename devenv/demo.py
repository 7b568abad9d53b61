"""``make demo``: the example chart installed by the real helm into a throwaway control plane, step by step.

It shows a newcomer, in under a minute and without any cluster of their own, what the test environment is: real
Kubernetes components built from source, real helm, nothing left behind afterwards.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from kubernetes import client
from rich.console import Console

from devenv import binaries, cluster
from devenv.controlplane import ControlPlane
from devenv.helmcli import Helm, isolated_helm
from devenv.paths import repo_root

NAMESPACE = "demo"
RELEASE = "demo"

console = Console(highlight=False, soft_wrap=True)  # soft wrap: command output keeps its own columns


def step(number: int, text: str) -> None:
    console.print(f"\n[bold cyan]{number}/6[/] [bold]{text}[/]")


def show(helm: Helm, binary: Path, *args: str) -> None:
    """Run a command in the demo's isolated environment (helm's HOME and kubeconfig) and print its output as is."""
    console.print(f"[dim]$ {binary.name} {' '.join(args)}[/]")
    process = subprocess.run([str(binary), *args], env=helm.env, capture_output=True, text=True, check=True)
    console.print(process.stdout.rstrip(), markup=False)


def run_demo(home: Path) -> None:
    major = cluster.helm_major()
    step(1, "Building (or finding cached) etcd, kube-apiserver, kube-controller-manager, kubectl and helm")
    for name in ("etcd", "kubernetes", f"helm{major}"):
        console.print(f"  {name} {binaries.version(name)}: {binaries.ensure_built(name)}")

    step(2, "Starting a control plane on loopback")
    with ControlPlane() as plane:
        console.print(
            f"  ready in {plane.startup_seconds:.1f} s at {plane.server} "
            f"(phases: {plane.phase_seconds}); kubeconfig {plane.kubeconfig}"
        )
        helm = isolated_helm(major, plane.kubeconfig, home, extra_path=plane.bin_path(major))

        step(3, f"Creating namespace {NAMESPACE!r}")
        with plane.admin_client() as api:
            client.CoreV1Api(api).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NAMESPACE)))

        chart = repo_root() / "examples" / "memcached" / "chart"
        step(4, f"helm {binaries.version(f'helm{major}')} install {RELEASE} {chart.relative_to(repo_root())}")
        console.print(helm.run("install", RELEASE, str(chart), "-n", NAMESPACE).stdout.rstrip(), markup=False)

        step(5, "What is in the cluster now (no kubelet here: Pods stay Pending, by design)")
        show(helm, binaries.kubectl_binary(), "get", "statefulset,svc", "-n", NAMESPACE)
        show(helm, helm.binary, "list", "-n", NAMESPACE)

        step(6, "Tearing everything down")
    console.print("  control plane stopped, temp dir removed\n[bold green]demo done[/]")


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="helmcr-demo-") as home:
        run_demo(Path(home))
    return 0


if __name__ == "__main__":
    sys.exit(main())
