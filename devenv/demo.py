"""``make demo``: the memcached walkthrough (examples/memcached/README.md) on a throwaway control plane, step by step.

From the chart to a running "operator", with nothing but the generated files: scaffold, apply the CRD and RBAC as
the admin, apply a resource, run ``helmcr sync --once`` as the generated ServiceAccount (a TokenRequest token, as
the CronJob's pod would have), then edit and delete the resource. Everything shown is a real command against a real
kube-apiserver (RBAC on) with the real helm; nothing is left behind.
"""

from __future__ import annotations

import filecmp
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from rich.console import Console

from devenv import binaries, cluster
from devenv.controlplane import ControlPlane
from devenv.helmcli import Helm, isolated_helm
from devenv.paths import repo_root

REPO = repo_root()
EXAMPLE = Path("examples") / "memcached"  # commands run in the repository, so they show as you would type them
DEPLOY = EXAMPLE / "deploy"
NAMESPACE = "default"
SCAFFOLD_FLAGS = ("--group", "cache.example.com", "--version", "v1alpha1", "--kind", "Memcached")
STEPS = 11

console = Console(highlight=False, soft_wrap=True)  # soft wrap: command output keeps its own columns


class Walkthrough:
    """The commands of the walkthrough, run in the demo's isolated environment and printed as they run."""

    def __init__(self, plane: ControlPlane, helm: Helm, scratch: Path) -> None:
        self.plane = plane
        self.helm = helm
        self.scratch = scratch
        self.step_number = 0

    def step(self, text: str) -> None:
        self.step_number += 1
        console.print(f"\n[bold cyan]{self.step_number}/{STEPS}[/] [bold]{text}[/]")

    def run(self, shown: str, argv: list[str], stdin: str | None = None, expect_failure: bool = False) -> str:
        """Print ``$ shown``, run ``argv``, print its output; a failure stops the demo unless it is the point."""
        console.print(f"[dim]$ {shown}[/]")
        process = subprocess.run(
            argv, input=stdin, env=self.helm.env, cwd=REPO, capture_output=True, text=True, check=False
        )
        output = (process.stdout + process.stderr).rstrip()
        console.print(output, markup=False)
        if (process.returncode != 0) != expect_failure:
            raise SystemExit(f"demo: `{shown}` exited {process.returncode}")
        return process.stdout

    def kubectl(self, *args: str, stdin: str | None = None, expect_failure: bool = False) -> str:
        return self.run(
            f"kubectl {shlex.join(args)}", [str(binaries.kubectl_binary()), *args], stdin, expect_failure=expect_failure
        )

    def helmcr(self, *args: str, shown: str = "") -> str:
        return self.run(f"helmcr {shown or shlex.join(args)}", [sys.executable, "-m", "reconcile.cli", *args])


def run_demo(scratch: Path) -> None:
    major = cluster.helm_major()
    started = time.monotonic()
    console.print("[bold]The memcached walkthrough[/] (examples/memcached/README.md), on a throwaway control plane")
    with ControlPlane() as plane:
        helm = isolated_helm(major, plane.kubeconfig, scratch / "home", extra_path=plane.bin_path(major))
        console.print(
            f"control plane ready in {plane.startup_seconds:.1f} s at {plane.server} (RBAC on); "
            f"helm {binaries.version(f'helm{major}')}"
        )
        walk(Walkthrough(plane, helm, scratch))
    console.print(f"\ncontrol plane stopped, temp dir removed; {time.monotonic() - started:.0f} s in all")
    console.print("[bold green]demo done[/]")


def walk(demo: Walkthrough) -> None:
    demo.step("Scaffold the operator from the chart (the result is committed as examples/memcached/deploy)")
    out = demo.scratch / "deploy"
    demo.helmcr(
        "scaffold", "--chart", str(EXAMPLE / "chart"), *SCAFFOLD_FLAGS, "--out", str(out),
        "--helm-binary", str(demo.helm.binary),
        shown=f"scaffold --chart {EXAMPLE / 'chart'} {shlex.join(SCAFFOLD_FLAGS)} --out {DEPLOY}",
    )  # fmt: skip
    same = all(filecmp.cmp(out / f.name, f, shallow=False) for f in (REPO / DEPLOY).iterdir())
    console.print(f"identical to the committed examples/memcached/deploy: {'yes' if same else 'NO'}")

    demo.step("Apply the CRD and the RBAC (as a cluster admin)")
    demo.kubectl("apply", "--server-side", "-f", str(DEPLOY / "crd.yaml"), "-f", str(DEPLOY / "rbac.yaml"))
    demo.kubectl("wait", "--for=condition=Established", "crd/memcacheds.cache.example.com", "--timeout=30s")

    demo.step("The API server now checks every Memcached against the chart's schema")
    bad = {**yaml.safe_load((REPO / EXAMPLE / "memcached-yy.yaml").read_text()), "spec": {"replicaCount": "three"}}
    demo.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(bad), expect_failure=True)

    demo.step("Apply the resource: memcached-yy, replicaCount 3")
    demo.kubectl("apply", "-f", str(EXAMPLE / "memcached-yy.yaml"))

    demo.step("Run helmcr once, as the generated ServiceAccount (what the CronJob does every 5 minutes)")
    config = demo.scratch / "helmcr.yaml"
    document = yaml.safe_load((REPO / DEPLOY / "helmcr.yaml").read_text())
    document["watches"][0]["chart"] = str(
        REPO / EXAMPLE / "chart"
    )  # in the cluster the image holds it at /charts/memcached
    config.write_text(yaml.safe_dump(document))
    account = demo.plane.service_account_kubeconfig(NAMESPACE, "helmcr-memcached", demo.scratch / "sa.kubeconfig")
    console.print(f"token for ServiceAccount {NAMESPACE}/helmcr-memcached from the TokenRequest API: {account}")
    sync = ("sync", "--once", "--config", str(config), "--kubeconfig", str(account))
    shown = "sync --once --config helmcr.yaml --kubeconfig sa.kubeconfig"
    demo.helmcr(*sync, "--helm-binary", str(demo.helm.binary), shown=shown)

    demo.step("kubectl get memcached: Ready, and the revision")
    demo.kubectl("get", "memcached", "-n", NAMESPACE)

    demo.step("The StatefulSet asks for 3 replicas (no kubelet here, so none become ready)")
    demo.kubectl(
        "get",
        "statefulset",
        "memcached-yy",
        "-n",
        NAMESPACE,
        "-o",
        "custom-columns=NAME:.metadata.name,REPLICAS:.spec.replicas",
    )

    demo.step("Edit the resource (replicaCount 5) and run helmcr: an upgrade to revision 2")
    demo.kubectl(
        "patch", "memcached", "memcached-yy", "-n", NAMESPACE, "--type=merge", "-p", '{"spec":{"replicaCount":5}}'
    )
    demo.helmcr(*sync, "--helm-binary", str(demo.helm.binary), shown=shown)
    demo.kubectl("get", "memcached,statefulset", "-n", NAMESPACE)

    demo.step("Run helmcr again with nothing changed: no helm process, no write")
    demo.helmcr(*sync, "--helm-binary", str(demo.helm.binary), shown=shown)

    demo.step("Delete the resource and run helmcr: the release is uninstalled")
    demo.kubectl("delete", "memcached", "memcached-yy", "-n", NAMESPACE)
    demo.helmcr(*sync, "--helm-binary", str(demo.helm.binary), shown=shown)
    demo.run(f"helm list -n {NAMESPACE}", [str(demo.helm.binary), "list", "-n", NAMESPACE])
    demo.kubectl("get", "statefulset", "-n", NAMESPACE)

    demo.step("Tear down")


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="helmcr-demo-") as scratch:
        run_demo(Path(scratch))
    return 0


if __name__ == "__main__":
    sys.exit(main())
