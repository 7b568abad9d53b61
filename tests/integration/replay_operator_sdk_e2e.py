"""operator-sdk's own Helm e2e scenario (test/e2e/helm/cluster_test.go), replayed against helmcr with the files of
their ``testdata/helm/memcached-operator`` as they are: their CRD, their watches.yaml as the config, their chart and
their sample CR, edited the way their test edits it.

Those files are not the project's to ship, and the Go module proxy refuses the operator-sdk module (403), so this
is not part of the suite (its name is not ``test_*``): ``make replay-operator-sdk OPERATOR_SDK=<a checkout of
operator-sdk>`` runs it, with helm 3 and helm 4. Without the files it fails, it never skips. Their test's steps
that need a running Pod (``rollout status``, the metrics endpoint) are left out: their image cannot be pulled
here, and helmcr has no metrics endpoint.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from devenv.controlplane import ControlPlane
from devenv.helmcli import Helm
from tests.integration.support import Helmcr, kubectl, releases, wait_for

CHECKOUT = os.environ.get("HELMCR_OPERATOR_SDK", "")
PROJECT = Path(CHECKOUT) / "testdata" / "helm" / "memcached-operator"
SAMPLE = "config/samples/cache_v1alpha1_memcached.yaml"
CRD = "config/crd/bases/cache.example.com_memcacheds.yaml"


class Cluster:
    """kubectl in the test's namespace, as their e2e drives the cluster."""

    def __init__(self, control_plane: ControlPlane, namespace: str) -> None:
        self.kubeconfig = control_plane.kubeconfig
        self.namespace = namespace

    def __call__(self, *args: str, stdin: str | None = None) -> str:
        done = kubectl(self.kubeconfig, "-n", self.namespace, *args, stdin=stdin)
        assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
        return done.stdout

    def get(self, *args: str) -> Any:
        return json.loads(self("get", *args, "-o", "json"))


def apply_sample(cluster: Cluster, project: Path, replicas: int) -> None:
    """Their test rewrites ``replicaCount: 3`` in the sample file and applies it."""
    sample = (project / SAMPLE).read_text()
    assert "replicaCount: 3" in sample, "their sample has changed: this replay needs a look"
    cluster("apply", "-f", "-", stdin=sample.replace("replicaCount: 3", f"replicaCount: {replicas}"))


def test_operator_sdks_helm_e2e_passes_against_helmcr(
    helmcr: Helmcr, control_plane: ControlPlane, namespace: str, helm: Helm
) -> None:
    assert CHECKOUT and (PROJECT / "watches.yaml").is_file(), (
        f"HELMCR_OPERATOR_SDK={CHECKOUT!r}: not a checkout of operator-sdk (no testdata/helm/memcached-operator)"
    )
    project = PROJECT
    cluster = Cluster(control_plane, namespace)
    cluster("apply", "-f", str(project / CRD))
    cluster("wait", "--for=condition=Established", "crd/memcacheds.cache.example.com", "--timeout=30s")
    helmcr.config = project / "watches.yaml"  # their file, read in place: its chart path is relative to it

    apply_sample(cluster, project, 1)
    installed = helmcr.sync("-n", namespace, "-o", "json")
    assert installed.exit_code == 0, installed.stdout + installed.stderr
    sample = cluster.get("memcacheds.cache.example.com", "memcached-sample")
    release = sample["status"]["deployedRelease"]["name"]
    assert release == "memcached-sample"
    cluster("wait", "--for=condition=Deployed", "memcacheds.cache.example.com/memcached-sample", "--timeout=10s")
    assert cluster.get("statefulset", release)["spec"]["replicas"] == 1
    assert cluster.get("service", "-l", f"app.kubernetes.io/instance={release}")["items"], "the release's Service"
    assert cluster.get("poddisruptionbudget", release), "their post-install hook"

    cluster("scale", "statefulset", release, "--replicas", "2")
    scaled_back = helmcr.sync("-n", namespace, "-o", "json")
    assert scaled_back.exit_code == 0, scaled_back.stdout + scaled_back.stderr
    assert scaled_back.outcome(release)["state"] == "drifted"
    assert cluster.get("statefulset", release)["spec"]["replicas"] == 1, "scaled back down to 1"

    apply_sample(cluster, project, 2)
    upgraded = helmcr.sync("-n", namespace, "-o", "json")
    assert upgraded.exit_code == 0, upgraded.stdout + upgraded.stderr
    assert upgraded.outcome(release)["action"] == "upgrade"
    assert cluster.get("statefulset", release)["spec"]["replicas"] == 2
    conditions = {c["type"]: c for c in cluster.get("memcacheds.cache.example.com", release)["status"]["conditions"]}
    assert conditions["Deployed"]["reason"] == "UpgradeSuccessful"

    # Their test then holds the StatefulSet with a finalizer and deletes the CR without waiting
    cluster("annotate", "memcacheds.cache.example.com", release, "helm.sdk.operatorframework.io/uninstall-wait=true")
    cluster("patch", "statefulset", release, "--type=merge", "-p",
            '{"metadata":{"finalizers":["helm.sdk.operatorframework.io/fake-finalizer"]}}')  # fmt: skip
    cluster("delete", "-f", "-", "--wait=false", stdin=(project / SAMPLE).read_text())
    wait_for(
        lambda: "deletionTimestamp" in cluster.get("statefulset", release)["metadata"],
        "the garbage collector to delete the StatefulSet",
    )
    cluster("patch", "statefulset", release, "--type=merge", "-p", '{"metadata":{"finalizers":[]}}')
    helmcr.sync("-n", namespace)  # uninstalls what the collector left, if anything: the release record

    def left_behind() -> list[str]:
        listed = cluster.get("statefulsets,services,poddisruptionbudgets,configmaps", "-l",
                             f"app.kubernetes.io/instance={release}")  # fmt: skip
        return [f"{item['kind']}/{item['metadata']['name']}" for item in listed["items"]]

    wait_for(lambda: not left_behind(), "nothing of the release to be left")
    assert releases(helm, namespace) == {}
