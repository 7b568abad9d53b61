"""A cluster-scoped kind without targetNamespace: each CR is blocked with the fix in its status, and the run asks
nothing its least-privilege RBAC forbids (no cluster-wide LIST of Secrets)."""

from __future__ import annotations

from reconcile.adapters.kube import ResourceType
from reconcile.model import Result, State
from reconcile.settings import Watch
from tests.unit.world import CHART, World

CLUSTER_CACHES = ResourceType("anywhere.io", "v1alpha1", "clustercaches")


def test_each_cr_is_blocked_naming_target_namespace_and_no_secret_is_listed_cluster_wide() -> None:
    world = World()
    world.server.add_crd(CLUSTER_CACHES, namespaced=False, kind="ClusterCache")
    world.watch = Watch(group="anywhere.io", version="v1alpha1", kind="ClusterCache", chart=str(CHART))
    body = {"apiVersion": "anywhere.io/v1alpha1", "kind": "ClusterCache", "metadata": {"name": "c"}, "spec": {}}
    world.server.create(CLUSTER_CACHES, None, body)
    before = len(world.server.requests)
    (outcome,) = world.sync().outcomes
    assert (outcome.step.state, outcome.result) == (State.INVALID, Result.BLOCKED)
    assert "targetNamespace" in outcome.message
    ready = world.server.get(CLUSTER_CACHES, None, "c")["status"]["conditions"][0]
    assert (ready["reason"], "targetNamespace" in ready["message"]) == ("Blocked", True)
    assert not [r for r in world.server.requests[before:] if r.path.startswith("/api/v1/secrets")]
