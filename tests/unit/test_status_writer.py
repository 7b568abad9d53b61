"""The status writer on the fakes: where status goes, what a failed write costs, and when events are recorded."""

from __future__ import annotations

from reconcile.adapters.kube import EVENTS, ResourceType
from reconcile.model import Result
from tests.unit.world import CACHES, NAMESPACE, World


def test_status_goes_through_the_status_subresource_and_only_when_it_changes() -> None:
    world = World()
    world.cr("cache")
    world.sync()
    assert world.server.count("PATCH", "memcacheds/status") == 1
    world.sync()
    assert world.server.count("PATCH", "memcacheds/status") == 1, "an unchanged status is not written again"


def test_a_crd_without_a_status_subresource_keeps_status_in_the_object() -> None:
    world = World()
    plain = ResourceType("anywhere.io", "v1alpha1", "plains")
    world.server.add_crd(plain, kind="Plain", status_subresource=False)
    world.watch = type(world.watch)(**{**world.watch.__dict__, "kind": "Plain", "plural": "plains"})
    world.server.create(plain, NAMESPACE, {"apiVersion": "anywhere.io/v1alpha1", "kind": "Plain",
                                           "metadata": {"name": "p"}, "spec": {}})  # fmt: skip
    summary = world.sync()
    assert summary.status_errors == ()
    assert world.server.get(plain, NAMESPACE, "p")["status"]["revision"] == 1


def test_a_refused_status_write_is_a_problem_of_the_run_and_the_release_still_converges() -> None:
    world = World()
    world.cr("cache")
    world.server.forbid("PATCH", "memcacheds/status")
    summary = world.sync()
    assert summary.outcomes[0].result is Result.SUCCEEDED and world.releases() == {"cache": (1, "deployed")}
    assert len(summary.status_errors) == 1 and "could not write status" in summary.status_errors[0]


def test_a_lost_event_is_never_fatal() -> None:
    world = World()
    world.cr("cache")
    world.server.forbid("POST", "events")
    summary = world.sync()
    assert summary.status_errors == () and world.ready("cache")["status"] == "True"
    assert world.server.objects(EVENTS) == []


def test_an_event_names_the_cr_and_what_happened() -> None:
    world = World()
    cr = world.cr("cache")
    world.sync()
    (event,) = world.server.objects(EVENTS, NAMESPACE)
    assert event["involvedObject"]["uid"] == cr["metadata"]["uid"] and event["reason"] == "InstallSucceeded"
    assert event["type"] == "Normal" and "revision 1" in event["message"]


def test_a_failure_is_counted_and_cleared_by_the_next_success() -> None:
    world = World()
    world.cr("cache")
    world.helm.fail_apply("cache", "timed out waiting for the condition")
    world.sync()
    assert world.status("cache")["failures"] == 1 and world.ready("cache")["reason"] == "InstallFailed"
    current = world.server.get(CACHES, NAMESPACE, "cache")
    world.server.replace(CACHES, NAMESPACE, "cache", {**current, "spec": {"replicaCount": 2}})
    world.sync()
    assert "failures" not in world.status("cache") and world.ready("cache")["reason"] == "UpgradeSucceeded"
