"""Owner references on what helm applied, hooks included: a CR deleted while no run happens takes its objects with
it (Kubernetes' garbage collector, in the real kube-controller-manager), and the next run's uninstall still works."""

from __future__ import annotations

from kubernetes import client

from tests.integration.support import (
    REPO,
    Helmcr,
    Resources,
    cache_watch,
    release_records,
    wait_for,
)

HOOKED = REPO / "tests" / "fixtures" / "charts" / "hooked"


def config_maps(kube: client.ApiClient, namespace: str) -> dict[str, list[str]]:
    """Each ConfigMap of the namespace (bar the root CA one) and the uids it names as owners."""
    found = client.CoreV1Api(kube).list_namespaced_config_map(namespace).items
    return {
        str(m.metadata.name): [r.uid for r in m.metadata.owner_references or []]
        for m in found
        if m.metadata and m.metadata.name != "kube-root-ca.crt"
    }


def test_a_deleted_cr_takes_its_objects_and_hooks_with_it_without_a_run(
    helmcr: Helmcr, caches: Resources, kube: client.ApiClient, namespace: str
) -> None:
    helmcr.configure([cache_watch(chart=str(HOOKED), ownerReferences=True)])
    uid = caches.create("owned", {})["metadata"]["uid"]
    caches.create("kept", {})
    caches.annotate("kept", {"helmcr.io/keep": "true"})
    installed = helmcr.sync("-n", namespace, "-o", "json")
    assert installed.exit_code == 0, installed.stdout + installed.stderr
    assert "not collected" not in installed.outcome("owned")["message"]
    assert config_maps(kube, namespace) == {
        "owned-main": [uid],
        "owned-after-install": [uid],
        "kept-main": [],
        "kept-after-install": [],
    }, "a CR that keeps its release owns nothing"

    caches.delete("owned")
    wait_for(lambda: "owned-main" not in config_maps(kube, namespace), "the garbage collector", timeout=60)
    wait_for(lambda: "owned-after-install" not in config_maps(kube, namespace), "the hook collected", timeout=60)

    uninstalled = helmcr.sync("-n", namespace, "-o", "json")
    assert uninstalled.exit_code == 0, uninstalled.stdout + uninstalled.stderr
    assert (
        uninstalled.outcome("owned")["action"] == "uninstall" and uninstalled.outcome("owned")["result"] == "succeeded"
    )
    assert set(release_records(kube, namespace)) == {"sh.helm.release.v1.kept.v1"}
