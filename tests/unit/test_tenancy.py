"""A CR author is a tenant: what one CR can do to other CRs, other kinds and the run, on the fakes."""

from __future__ import annotations

from typing import Any

from reconcile.adapters.kube import ResourceType
from reconcile.errors import ExitCode
from reconcile.exits import exit_code
from reconcile.labels import ownership_labels
from reconcile.model import Action, ResourceRef, State
from reconcile.settings import Config, Watch
from tests.unit.world import CACHES, CHART, NAMESPACE, World

REDIS = ResourceType("anywhere.io", "v1alpha1", "redises")


def nested(depth: int) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    for _ in range(depth - 1):
        spec = {"a": spec}
    return spec


def two_kinds() -> tuple[World, Config]:
    world = World()
    world.server.add_crd(REDIS, kind="Redis")
    redis = Watch(group="anywhere.io", version="v1alpha1", kind="Redis", plural="redises", chart=str(CHART))
    return world, Config(path=world.config.path, watches=(world.watch, redis))


def redis_cr(world: World, name: str) -> None:
    body = {"apiVersion": "anywhere.io/v1alpha1", "kind": "Redis", "metadata": {"name": name}, "spec": {}}
    world.server.create(REDIS, NAMESPACE, body)


def test_a_spec_nested_a_thousand_levels_is_that_crs_blocked_step_not_the_runs_crash() -> None:
    world = World()
    world.cr("deep", nested(1000))
    world.cr("fine")
    summary = world.sync()
    steps = {o.step.key.name: (o.step.action, o.step.state) for o in summary.outcomes}
    assert steps == {"deep": (Action.BLOCKED, State.INVALID), "fine": (Action.INSTALL, State.ABSENT)}
    assert "nested more than 64 levels" in world.ready("deep")["message"]
    assert world.releases() == {"fine": (1, "deployed")}


def test_crs_of_two_kinds_mapping_to_one_new_release_are_both_blocked() -> None:
    world, config = two_kinds()
    world.cr("dup")
    redis_cr(world, "dup")
    summary = world.sync_config(config)
    assert {(o.step.action, o.step.state) for o in summary.outcomes} == {(Action.BLOCKED, State.CONFLICT)}
    assert world.releases() == {}
    assert "also asked for by a CR of Redis" in world.ready("dup")["message"]


def test_the_kind_that_owns_a_release_keeps_it_and_the_other_kind_never_uninstalls_it() -> None:
    world, config = two_kinds()
    world.cr("dup")
    world.sync_config(config)
    redis_cr(world, "dup")
    world.edit("dup", {"replicaCount": 2})
    summary = world.sync_config(config)
    by_kind = {o.step.owner.kind: o.step.action for o in summary.outcomes if o.step.owner}
    assert by_kind == {"Memcached": Action.UPGRADE, "Redis": Action.BLOCKED}
    assert world.releases() == {"dup": (2, "deployed")}


def test_a_release_another_kind_took_over_is_not_this_kinds_orphan() -> None:
    world, config = two_kinds()
    world.cr("dup")
    world.sync_config(config)
    redis_cr(world, "dup")
    uid = world.server.get(REDIS, NAMESPACE, "dup")["metadata"]["uid"]
    taker = ResourceRef("anywhere.io", "Redis", NAMESPACE, "dup", uid)
    labels = ",".join(f"{k}={v}" for k, v in sorted(ownership_labels(taker, "d").items()))
    world.helm.run(["upgrade", "--install", "dup", str(CHART), "--namespace", NAMESPACE, "--labels", labels])
    world.delete("dup")
    summary = world.sync_config(config)
    steps = {(o.step.owner.kind if o.step.owner else "", o.step.action) for o in summary.outcomes}
    assert steps == {("Redis", Action.UPGRADE)}, "Memcached's revision 1 is history, not a release to uninstall"
    assert world.releases() == {"dup": (3, "deployed")}


def test_a_plural_that_names_another_crd_is_refused_and_uninstalls_nothing() -> None:
    world, _ = two_kinds()
    world.cr("cache")
    world.sync()
    world.watch = Watch(**{**world.watch.__dict__, "plural": "redises"})
    summary = world.sync()
    assert summary.outcomes == () and "RedisList, not MemcachedList" in summary.kind_errors[0].message
    assert world.releases() == {"cache": (1, "deployed")}


def test_waiting_out_a_backoff_is_not_converged() -> None:
    world = World()
    world.cr("flaky")
    world.helm.fail_apply("flaky", "timed out waiting for the condition")
    world.sync()
    waiting = world.sync()
    assert [o.step.action for o in waiting.outcomes] == [Action.WAIT]
    assert exit_code(waiting) is ExitCode.NOT_CONVERGED


def test_a_crd_without_status_subresource_under_least_privilege_is_an_error_not_a_deleted_cr() -> None:
    world = World()
    plain = ResourceType("anywhere.io", "v1alpha1", "plains")
    world.server.add_crd(plain, kind="Plain", status_subresource=False)
    world.watch = Watch(**{**world.watch.__dict__, "kind": "Plain", "plural": "plains"})
    body = {"apiVersion": "anywhere.io/v1alpha1", "kind": "Plain", "metadata": {"name": "p"}, "spec": {}}
    world.server.create(plain, NAMESPACE, body)
    world.server.forbid("PATCH", "plains")
    summary = world.sync()
    assert len(summary.status_errors) == 1 and "no status subresource" in summary.status_errors[0]
    assert exit_code(summary) is ExitCode.NOT_CONVERGED


__all__ = ["CACHES"]
