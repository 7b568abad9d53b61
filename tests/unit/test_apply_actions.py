"""Each action done its one way, on the fakes: recovery of dead operations, the gate, and failures by category."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any, cast

from reconcile.apply import Executor, _renders_as_deployed
from reconcile.model import Action, ReleaseKey, Result, RunSummary, State, Step
from reconcile.settings import FailurePolicy, HelmOptions, Watch
from reconcile.sync import RunControl
from tests.unit.factories import CHART, desired
from tests.unit.world import CACHES, NAMESPACE, World

STUCK_AFTER = FailurePolicy(stuck_after_seconds=600)


def stuck_world(*, deployed_first: bool) -> World:
    """A release whose helm died mid-operation an hour ago, leaving its latest record pending."""
    world = World()
    world.watch = Watch(**{**world.watch.__dict__, "policy": STUCK_AFTER})
    world.cr("cache")
    if deployed_first:
        world.sync()
        world.edit("cache", {"replicaCount": 2})
    world.server.clock = lambda: time.time() - 3600
    world.helm.leave_pending("cache")
    world.sync()
    world.server.clock = time.time
    current = world.server.get(CACHES, NAMESPACE, "cache")
    retry = {**current, "metadata": {**current["metadata"], "annotations": {"helmcr.io/retry": "after-the-crash"}}}
    world.server.replace(CACHES, NAMESPACE, "cache", retry)  # the killed attempt's backoff is not the point here
    return world


def only(summary: RunSummary) -> tuple[Action, State, Result]:
    (outcome,) = summary.outcomes
    return outcome.step.action, outcome.step.state, outcome.result


def test_a_pending_release_younger_than_stuck_after_is_left_to_its_operation() -> None:
    world = World()
    world.cr("cache")
    world.helm.leave_pending("cache")
    world.sync()
    assert only(world.sync()) == (Action.BLOCKED, State.LOCKED, Result.BLOCKED)
    assert world.releases() == {"cache": (1, "pending-install")}


def test_a_dead_install_is_unlocked_uninstalled_and_installed_afresh() -> None:
    world = stuck_world(deployed_first=False)
    assert world.releases() == {"cache": (1, "pending-install")}
    assert only(world.sync()) == (Action.REINSTALL, State.STUCK, Result.SUCCEEDED)
    assert world.releases() == {"cache": (1, "deployed")}
    assert [(c.command, c.dry_run) for c in world.helm.calls[-3:]] == [
        ("uninstall", False),
        ("upgrade", True),  # the rendered objects are checked before helm applies them
        ("upgrade", False),
    ]


def test_a_dead_upgrade_is_marked_failed_then_upgraded() -> None:
    world = stuck_world(deployed_first=True)
    assert world.releases() == {"cache": (2, "pending-upgrade")}
    assert only(world.sync()) == (Action.UNLOCK_AND_UPGRADE, State.STUCK_UPGRADE, Result.SUCCEEDED)
    assert world.releases() == {"cache": (3, "deployed")}
    assert world.helm.calls[-1].command == "upgrade"


def test_a_dead_operation_on_an_orphan_is_unlocked_and_uninstalled() -> None:
    world = stuck_world(deployed_first=True)
    world.delete("cache")
    assert only(world.sync()) == (Action.UNLOCK_AND_UNINSTALL, State.STUCK_ORPHAN, Result.SUCCEEDED)
    assert world.releases() == {}


def test_nothing_starts_once_the_run_is_asked_to_stop() -> None:
    world = World()
    world.cr("cache")
    control = RunControl()
    control.stop.set()
    outcome = world.sync(control=control).outcomes[0]
    assert (outcome.result, outcome.message) == (Result.NOT_STARTED, "not started: helmcr was asked to stop")
    assert world.releases() == {} and world.helm.calls_of("upgrade") == []
    assert "conditions" not in world.status("cache"), "a step that did not start writes no status"


def test_a_time_budget_shorter_than_helms_timeout_starts_nothing() -> None:
    world = World()
    world.cr("cache")
    outcome = world.sync(control=RunControl(time_budget_seconds=10)).outcomes[0]
    assert outcome.result is Result.NOT_STARTED and "time budget" in outcome.message


def test_failures_carry_the_category_of_helms_error() -> None:
    world = World()
    for name in ("slow", "clash", "locked"):
        world.cr(name)
    world.helm.fail_apply("slow", "timed out waiting for the condition")
    world.helm.fail_apply("clash", "conflict occurred while applying object: Apply failed with 1 conflict")
    world.helm.leave_pending("locked")
    categories = {o.step.key.name: o.error for o in world.sync().outcomes}
    assert categories == {"slow": "timed-out", "clash": "conflict", "locked": "interrupted"}


def test_values_reach_helm_through_its_standard_input_never_a_file_or_the_command_line() -> None:
    world = World()
    world.cr("cache", {"auth": {"password": "hunter2-secret"}})
    world.sync()
    check, apply = world.helm.calls_of("upgrade")
    for call in (check, apply):
        assert call.values == {"auth": {"password": "hunter2-secret"}} and call.values_modes == ()
        assert call.argv[call.argv.index("--values") + 1] == "-"
        assert not any("hunter2" in part for part in call.argv)


def test_an_adopted_release_gets_no_revision_when_nothing_would_change_and_an_upgrade_otherwise() -> None:
    world = World()
    world.watch = Watch(**{**world.watch.__dict__, "adopt": True})
    installed = {"same": b'{"replicaCount": 1}', "edited": b'{"replicaCount": 1}'}
    for name, values in installed.items():
        world.helm.run(
            ["upgrade", "--install", name, str(world.watch.chart), "--namespace", NAMESPACE, "--values", "-"],
            stdin=values,
        )
        world.cr(name, {"replicaCount": 2 if name == "edited" else 1})
    summary = world.sync()
    assert {o.step.key.name: (o.step.action, o.result) for o in summary.outcomes} == {
        name: (Action.ADOPT, Result.SUCCEEDED) for name in installed
    }
    assert world.releases() == {"same": (1, "deployed"), "edited": (2, "deployed")}
    assert "no new revision" in world.ready("same")["message"]
    assert {o.step.state for o in world.sync().outcomes} == {State.IN_SYNC}, "both releases are helmcr's now"


def test_adoption_takes_true_for_true_and_a_hook_that_never_ran_for_a_change() -> None:
    """Python holds True == 1; helm's values and the objects it applies do not."""
    step = Step(ReleaseKey(NAMESPACE, "cache"), Action.ADOPT, State.ADOPTABLE, "", desired(values={"on": True}))
    executor = cast(Executor, SimpleNamespace(options=HelmOptions()))
    manifest = "kind: ConfigMap\nmetadata: {name: x}\ndata: {on: true}\n"
    hook: dict[str, Any] = {"events": ["post-install", "post-upgrade"], "manifest": "kind: Job\nmetadata: {name: m}\n"}
    chart = {"metadata": {"name": CHART.name, "version": CHART.version}}
    deployed: dict[str, Any] = {"chart": chart, "config": {"on": True}, "manifest": manifest, "hooks": [hook]}
    rendered = manifest + "---\n" + hook["manifest"]
    assert not _renders_as_deployed(step, executor, rendered, deployed), "installed with --no-hooks: never ran"
    hook["last_run"] = {"phase": "Succeeded"}
    assert _renders_as_deployed(step, executor, rendered, deployed)
    assert not _renders_as_deployed(step, executor, rendered, {**deployed, "config": {"on": 1}})
    assert not _renders_as_deployed(step, executor, rendered.replace("on: true", "on: 1"), deployed)


def test_adopting_with_owner_references_reads_the_release_record_once() -> None:
    world = World()
    world.watch = Watch(**{**world.watch.__dict__, "adopt": True, "owner_references": True})
    world.helm.run(
        ["upgrade", "--install", "same", str(world.watch.chart), "--namespace", NAMESPACE, "--values", "-"],
        stdin=b'{"replicaCount": 1}',
    )
    world.cr("same", {"replicaCount": 1})
    before = len(world.server.requests)
    summary = world.sync()
    assert only(summary)[::2] == (Action.ADOPT, Result.SUCCEEDED)
    record = "/secrets/sh.helm.release.v1.same.v1"
    reads = [r for r in world.server.requests[before:] if r.method == "GET" and r.path.endswith(record)]
    assert len(reads) == 1, "the record adoption read is the one its owner references are made from"
