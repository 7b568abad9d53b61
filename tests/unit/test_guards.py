"""Loop and churn guards, and per-namespace budgets, on the fakes."""

from __future__ import annotations

from dataclasses import replace

from reconcile.adapters.kube import SECRETS
from reconcile.errors import ExitCode
from reconcile.exits import exit_code
from reconcile.labels import LABEL_DIGEST
from reconcile.model import Action, RunSummary, State
from reconcile.settings import FailurePolicy, RunOptions, Scope
from tests.unit.world import CACHES, NAMESPACE, World


def state_of(summary: RunSummary, name: str) -> State:
    return next(o.step.state for o in summary.outcomes if o.step.key.name == name)


def tamper(world: World, release: str) -> None:
    """Something else rewrites the release's digest label (a tool that upgrades it with its own labels)."""
    records = [r for r in world.server.objects(SECRETS, NAMESPACE) if r["metadata"]["labels"].get("name") == release]
    latest = max(records, key=lambda r: int(r["metadata"]["labels"]["version"]))
    latest["metadata"]["labels"][LABEL_DIGEST] = "rewritten-by-someone-else"
    world.server.replace(SECRETS, NAMESPACE, latest["metadata"]["name"], latest)


def test_a_release_upgraded_to_the_same_values_again_and_again_is_blocked_until_retried() -> None:
    world = World()
    world.watch = replace(world.watch, policy=FailurePolicy(max_repeats_per_day=2))
    world.cr("cache")
    world.sync()
    for _ in range(2):
        tamper(world, "cache")
        assert state_of(world.sync(), "cache") is State.OUT_OF_SYNC
    assert [entry["digest"] for entry in world.status("cache")["upgrades"]] == [world.status("cache")["digest"]] * 2
    tamper(world, "cache")
    blocked = world.sync()
    assert state_of(blocked, "cache") is State.CHURNING
    assert world.helm.processes == 0, "no helm at all"
    assert "upgraded to these very values 2 times in 24 hours" in world.ready("cache")["message"]
    assert exit_code(blocked) is ExitCode.NOT_CONVERGED

    world.server.patch(CACHES, NAMESPACE, "cache", {"metadata": {"annotations": {"helmcr.io/retry": "1"}}})
    assert state_of(world.sync(), "cache") is State.OUT_OF_SYNC, "a new retry value lets one more go"


def test_more_upgrades_a_day_than_the_limit_is_churn_whatever_the_values() -> None:
    world = World()
    world.watch = replace(world.watch, policy=FailurePolicy(max_upgrades_per_day=3, max_repeats_per_day=0))
    world.cr("cache")
    world.sync()
    for replicas in (2, 3, 4):
        world.edit("cache", {"replicaCount": replicas})
        assert state_of(world.sync(), "cache") is State.OUT_OF_SYNC
    world.edit("cache", {"replicaCount": 5})
    assert state_of(world.sync(), "cache") is State.CHURNING
    assert len(world.status("cache")["upgrades"]) == 3, "the record keeps only what the limits count"


def test_one_namespace_past_its_budget_waits_and_the_others_go() -> None:
    world = World()
    for i in range(5):
        world.cr(f"noisy-{i}")
    body = {"apiVersion": "anywhere.io/v1alpha1", "kind": "Memcached", "metadata": {"name": "quiet"}, "spec": {}}
    world.server.create(CACHES, "team-b", body)
    first = world.sync(RunOptions(scope=Scope(), namespace_budget=2))
    installed = sorted(o.step.key.name for o in first.outcomes if o.step.action is Action.INSTALL)
    assert installed == ["noisy-0", "noisy-1", "quiet"]
    assert state_of(first, "noisy-4") is State.NAMESPACE_BUDGET
    assert exit_code(first) is ExitCode.CONVERGED, "a budget spreads the work; it is no failure"
    second = world.sync(RunOptions(scope=Scope(), namespace_budget=2))
    assert sorted(o.step.key.name for o in second.outcomes if o.step.action is Action.INSTALL) == ["noisy-2", "noisy-3"]
