"""sync_once end to end on the fakes: what a run does to releases, status and events, and what it costs."""

from __future__ import annotations

from dataclasses import replace

import pytest

from reconcile.adapters.helm_storage import read_release
from reconcile.clock import now_micro
from reconcile.errors import ExitCode, LeaseHeldError
from reconcile.exits import exit_code
from reconcile.model import Action, ReleaseKey, Result, RunSummary
from reconcile.settings import LeaseConfig, Portion, RunOptions, Scope
from tests.unit.fakes import LEASES
from tests.unit.world import World


def results(summary: RunSummary) -> dict[str, tuple[str, str]]:
    return {o.step.key.name: (str(o.step.action), str(o.result)) for o in summary.outcomes}


def test_create_edit_delete_converge_and_are_written_back() -> None:
    world = World()
    world.cr("cache")
    first = world.sync()
    assert results(first) == {"cache": ("install", "succeeded")}
    assert world.releases() == {"cache": (1, "deployed")}
    assert world.ready("cache")["reason"] == "InstallSucceeded" and world.status("cache")["revision"] == 1

    world.edit("cache", {"replicaCount": 2})
    assert results(world.sync()) == {"cache": ("upgrade", "succeeded")}
    assert world.releases() == {"cache": (2, "deployed")}
    assert world.helm.calls_of("upgrade")[-1].values == {"replicaCount": 2}

    world.delete("cache")
    assert results(world.sync()) == {"cache": ("uninstall", "succeeded")}
    assert world.releases() == {}
    assert sorted(world.events()) == ["InstallSucceeded", "UninstallSucceeded", "UpgradeSucceeded"]


def test_a_run_with_nothing_to_change_is_two_lists_and_no_helm_and_no_write() -> None:
    world = World()
    for name in ("a", "b", "c"):
        world.cr(name)
    world.sync()
    before = len(world.server.requests)
    quiet = world.sync()
    assert results(quiet) == {n: ("skip", "skipped") for n in "abc"}
    assert (world.kube.requests, world.helm.processes) == (2, 0)
    assert [r.method for r in world.server.requests[before:]] == ["GET", "GET"]


def test_the_lease_is_taken_only_when_something_changes_and_released_after() -> None:
    world = World()
    world.cr("cache")
    world.sync()
    assert world.server.objects(LEASES)[0]["spec"]["holderIdentity"] == ""
    writes_before = world.server.count("PUT", "leases")
    world.sync()
    assert world.server.count("PUT", "leases") == writes_before, "a no-op run writes no lease"


def test_a_run_while_another_holds_the_lease_changes_nothing() -> None:
    world = World()
    world.cr("cache")
    world.sync()
    lease = world.server.objects(LEASES)[0]
    held = {**lease, "spec": {**lease["spec"], "holderIdentity": "other-run", "renewTime": now_micro()}}
    world.server.replace(LEASES, lease["metadata"]["namespace"], lease["metadata"]["name"], held)
    world.edit("cache", {"replicaCount": 3})
    with pytest.raises(LeaseHeldError, match="other-run"):
        world.sync()
    assert world.releases() == {"cache": (1, "deployed")}


def test_one_bad_cr_does_not_block_the_others() -> None:
    world = World()
    world.cr("good")
    world.cr("bad", spec=["not", "an", "object"])  # type: ignore[arg-type]
    world.cr("broken", {"replicaCount": 1})
    world.helm.fail_render("broken", "nil pointer evaluating .Values.image")
    summary = world.sync()
    assert results(summary) == {
        "bad": ("blocked", "blocked"),
        "broken": ("install", "failed"),
        "good": ("install", "succeeded"),
    }
    assert world.ready("bad")["reason"] == "Blocked" and "spec must be an object" in world.ready("bad")["message"]
    assert world.ready("broken")["reason"] == "InstallFailed"
    assert next(o for o in summary.outcomes if o.step.key.name == "broken").error == "render-failed"
    assert world.releases() == {"good": (1, "deployed")}


def test_a_failed_attempt_waits_out_its_backoff_without_helm() -> None:
    world = World()
    world.cr("flaky")
    world.helm.fail_apply("flaky", "timed out waiting for the condition")
    assert results(world.sync()) == {"flaky": ("install", "failed")}
    assert world.status("flaky")["failures"] == 1
    waiting = world.sync()
    assert results(waiting) == {"flaky": ("wait", "skipped")}
    assert world.helm.processes == 0 and "next attempt after" in world.status("flaky")["message"]


def test_uninstalls_over_the_budget_are_all_refused() -> None:
    world = World()
    for name in "abc":
        world.cr(name)
    world.sync()
    for name in "abc":
        world.delete(name)
    refused = world.sync(RunOptions(scope=Scope(), max_uninstalls=Portion(count=2)))
    assert {o.step.action for o in refused.outcomes} == {Action.BLOCKED}
    assert set(world.releases()) == {"a", "b", "c"}
    forced = world.sync(RunOptions(scope=Scope(), max_uninstalls=Portion(count=2), force_uninstalls=True))
    assert {o.result for o in forced.outcomes} == {Result.SUCCEEDED} and world.releases() == {}


def test_a_release_someone_else_installed_is_left_alone() -> None:
    world = World()
    world.helm.run(
        ["upgrade", "--install", "cache", str(world.watch.chart), "--namespace", "team-a", "--output", "json"]
    )
    world.cr("cache")
    summary = world.sync()
    assert results(summary) == {"cache": ("blocked", "blocked")}
    assert "adopt: true" in world.ready("cache")["message"]
    assert world.releases() == {"cache": (1, "deployed")}


def test_a_missing_crd_is_a_cluster_error_of_that_kind_only() -> None:
    world = World()
    world.server.forbid("GET", "memcacheds")
    summary = world.sync()
    assert summary.outcomes == () and summary.kind_errors[0].cluster
    assert "forbidden" in summary.kind_errors[0].message


def test_a_spec_emptied_to_nothing_resets_the_values_instead_of_keeping_the_old_ones() -> None:
    world = World()
    world.cr("cache", {"replicaCount": 3})
    world.sync()
    world.edit("cache", {})
    assert results(world.sync()) == {"cache": ("upgrade", "succeeded")}
    deployed = read_release(world.kube, ReleaseKey("team-a", "cache"), 2)
    assert not deployed.get("config"), "helm reuses the old values for empty new ones unless told to reset them"


def test_the_lease_namespace_is_the_configs_wherever_the_run_is() -> None:
    world = World()
    world.cr("cache")
    world.sync()
    assert [lease["metadata"]["namespace"] for lease in world.server.objects(LEASES)] == ["default"]
    config = replace(world.config, lease=LeaseConfig(namespace="helmcr-system"))
    world.edit("cache", {"replicaCount": 2})
    world.sync_config(config)
    assert sorted(lease["metadata"]["namespace"] for lease in world.server.objects(LEASES)) == [
        "default",
        "helmcr-system",
    ]


def test_a_run_without_the_digest_key_its_releases_were_made_with_changes_nothing_of_that_kind() -> None:
    world = World()
    world.cr("cache", {"replicaCount": 2})
    keyed = replace(world.config, digest_key=b"k" * 32)
    assert [o.result for o in world.sync_config(keyed).outcomes] == [Result.SUCCEEDED]
    world.edit("cache", {"replicaCount": 3})
    unkeyed = world.sync()
    (error,) = unkeyed.kind_errors
    assert "was deployed with digest key" in error.message and "HELMCR_DIGEST_KEY" in error.message
    assert (unkeyed.outcomes, world.releases()) == ((), {"cache": (1, "deployed")})
    assert exit_code(unkeyed) == ExitCode.NOT_CONVERGED
