"""Rollout waves on the fakes: a kind-wide change goes out a canary, then a wave per run, halts past its failure
budget, resumes, pauses; a CR its author changed is never held back; and a run reads its progress from the cluster
alone."""

from __future__ import annotations

from dataclasses import replace

from reconcile.assess import Inventory
from reconcile.errors import ExitCode
from reconcile.exits import exit_code
from reconcile.livereport import LiveReport, ObjectRef
from reconcile.model import Action, ReleaseStatus, RunSummary, State
from reconcile.plan import plan_kind
from reconcile.rollout import rollouts
from reconcile.settings import LiveChecks, Portion, Rollout, RunOptions, Scope, Selector, Watch
from tests.unit.factories import desired, observed
from tests.unit.fakes import FakeHelm, FakeKube
from tests.unit.world import CACHES, NAMESPACE, World

NAMES = [f"cache-{i}" for i in range(10)]
WATCH = Watch(group="anywhere.io", version="v1alpha1", kind="Memcached", chart="/charts/memcached")


def states(summary: RunSummary) -> dict[str, State]:
    return {o.step.key.name: o.step.state for o in summary.outcomes}


def upgraded(summary: RunSummary) -> list[str]:
    return sorted(o.step.key.name for o in summary.outcomes if o.step.action is Action.UPGRADE and o.ok)


def fleet(rollout: Rollout, labels: dict[str, dict[str, str]] | None = None) -> World:
    """A kind of ``crs`` installed at overrides v1, then the config's overrides bumped to v2 (a kind-wide change)."""
    world = World()
    for name in NAMES:
        world.cr(name, labels=(labels or {}).get(name, {}))
    world.watch = replace(world.watch, rollout=rollout, override_values={"bump": "v1"})
    world.sync()
    world.watch = replace(world.watch, override_values={"bump": "v2"})
    return world


def test_a_kind_wide_change_goes_out_canary_first_then_a_wave_per_run() -> None:
    world = fleet(Rollout(canary=Portion(count=1), wave=Portion(count=4)))
    canary = world.sync()
    assert upgraded(canary) == ["cache-0"], "the canary: the first release in namespace/name order"
    assert sum(1 for s in states(canary).values() if s is State.ROLLOUT_QUEUED) == 9
    assert exit_code(canary) is ExitCode.CONVERGED, "a rollout going as planned is no failure"
    queued = next(o for o in canary.outcomes if o.step.key.name == "cache-9")
    assert "wave 3 of 3" in queued.step.reason
    assert "wave 3 of 3" in world.status("cache-9")["message"], "every waiting CR says where it is"
    assert world.ready("cache-9")["status"] == "True", "a queued CR is not broken"

    assert upgraded(world.sync()) == ["cache-1", "cache-2", "cache-3", "cache-4"]
    assert upgraded(world.sync()) == ["cache-5", "cache-6", "cache-7", "cache-8"]
    assert upgraded(world.sync()) == ["cache-9"]
    done = world.sync()
    assert set(states(done).values()) == {State.IN_SYNC}


def test_a_canary_selector_picks_the_canary() -> None:
    rollout = Rollout(canary_selector=Selector({"ring": "canary"}), wave=Portion(percent=50))
    world = fleet(rollout, {"cache-7": {"ring": "canary"}, "cache-3": {"ring": "canary"}})
    assert upgraded(world.sync()) == ["cache-3", "cache-7"]
    assert upgraded(world.sync()) == ["cache-0", "cache-1", "cache-2", "cache-4", "cache-5"]


def test_a_canary_selector_that_matches_nothing_still_sends_one_canary_first() -> None:
    world = fleet(Rollout(canary_selector=Selector({"ring": "canary"}), wave=Portion(percent=50)))
    assert upgraded(world.sync()) == ["cache-0"], "a typo in the selector must not skip the canary"


def test_a_canary_refused_before_helm_writes_a_revision_halts_the_rollout_too() -> None:
    world = fleet(Rollout(canary=Portion(count=1), wave=Portion(count=3)))
    world.helm.fail_render("cache-0", "Error: template: memcached/templates/service.yaml: port out of range")
    assert upgraded(world.sync()) == []
    assert world.releases()["cache-0"] == (1, "deployed"), "nothing was written: the release is as it was"
    halted = world.sync()
    assert states(halted)["cache-0"] is State.BACKOFF
    assert {states(halted)[name] for name in NAMES[1:]} == {State.ROLLOUT_HALTED}


def test_past_the_failure_budget_the_rollout_halts_and_resumes_when_asked() -> None:
    world = fleet(Rollout(canary=Portion(count=2), wave=Portion(count=3), failure_budget=Portion(count=0)))
    world.helm.fail_apply("cache-1", "Error: UPGRADE FAILED: the new chart is broken")
    canary = world.sync()
    assert upgraded(canary) == ["cache-0"]
    halted = world.sync()
    assert upgraded(halted) == []
    assert states(halted)["cache-5"] is State.ROLLOUT_HALTED
    reason = next(o.step.reason for o in halted.outcomes if o.step.key.name == "cache-5")
    assert "rollout halted: 1 of the 2 releases" in reason and "team-a/cache-1" in reason
    assert "rollout halted" in world.status("cache-5")["message"]
    assert exit_code(halted) is ExitCode.NOT_CONVERGED, "a halt needs someone to look"

    resumed = world.sync(RunOptions(scope=Scope(), resume_rollouts=True))
    assert upgraded(resumed) == ["cache-2", "cache-3", "cache-4"], "--resume-rollout: one more wave"
    assert states(world.sync())["cache-5"] is State.ROLLOUT_HALTED, "the flag lasts one run"

    digest = reason.split("rollout.resume: '")[1].split("'")[0]
    world.watch = replace(world.watch, rollout=replace(world.watch.rollout, resume=digest))
    assert upgraded(world.sync()) == ["cache-5", "cache-6", "cache-7"], "rollout.resume: for good"


def test_a_cr_its_author_changed_is_not_held_back_and_a_new_cr_installs_at_once() -> None:
    world = fleet(Rollout(wave=Portion(count=1)))
    world.edit("cache-8", {"replicaCount": 3})
    world.cr("cache-new")
    summary = world.sync()
    assert upgraded(summary) == ["cache-0", "cache-8"], "the wave, and the CR whose spec changed"
    assert states(summary)["cache-new"] is State.ABSENT
    assert (world.helm.calls_of("upgrade")[-1].values or {}).get("bump") == "v2"


def test_a_paused_rollout_starts_nothing_and_a_run_that_dies_is_continued_from_the_cluster() -> None:
    world = fleet(Rollout(wave=Portion(count=3), paused=True))
    paused = world.sync()
    assert upgraded(paused) == [] and set(states(paused).values()) == {State.ROLLOUT_QUEUED}
    world.watch = replace(world.watch, rollout=replace(world.watch.rollout, paused=False))
    assert upgraded(world.sync()) == ["cache-0", "cache-1", "cache-2"]
    world.kube, world.helm = FakeKube(world.server), FakeHelm(world.server)  # a new process: only the cluster is left
    assert upgraded(world.sync()) == ["cache-3", "cache-4", "cache-5"]


def test_without_a_rollout_every_release_upgrades_in_the_run_that_sees_the_change() -> None:
    world = fleet(Rollout())
    assert len(upgraded(world.sync())) == len(NAMES)


NOW = 1_800_000_000.0


def health_gated(ready: bool, upgraded_ago: float) -> dict[str, State]:
    """Three releases of a kind with health on and waves of one: the first already at the new chart, as ready or
    not as given, upgraded ``upgraded_ago`` seconds before this run."""
    at_new = replace(observed("a", digest="d2"), fleet_digest="f2", modified_at=NOW - upgraded_ago, by_rollout=True)
    behind = [replace(observed(name, digest="d1"), fleet_digest="f1") for name in ("b", "c")]
    wants = [replace(desired(name, digest="d2", status={"observedGeneration": 1}), fleet_digest="f2") for name in "abc"]
    not_ready = () if ready else ((ObjectRef("Deployment", "team-a", "a"), "0 of 1 replicas available"),)
    live = {wants[0].key: LiveReport(health=True, not_ready=not_ready)}
    inventory = Inventory(desired=tuple(wants), owned=(at_new, *behind), live=live)
    watch = replace(WATCH, rollout=Rollout(wave=Portion(count=1)), live=LiveChecks(health=True))
    (kind,) = rollouts(NOW, resume=False)([plan_kind(watch, inventory)])
    return {step.key.name: step.state for step in kind.plan.steps}


def test_the_next_wave_waits_for_the_last_to_be_healthy_and_one_never_ready_counts_as_failed() -> None:
    assert health_gated(ready=True, upgraded_ago=30) == {
        "a": State.IN_SYNC,
        "b": State.OUT_OF_SYNC,
        "c": State.ROLLOUT_QUEUED,
    }
    assert health_gated(ready=False, upgraded_ago=30) == {
        "a": State.IN_SYNC,
        "b": State.ROLLOUT_QUEUED,
        "c": State.ROLLOUT_QUEUED,
    }, "not ready yet: the next wave waits"
    assert health_gated(ready=False, upgraded_ago=700) == {
        "a": State.IN_SYNC,
        "b": State.ROLLOUT_HALTED,
        "c": State.ROLLOUT_HALTED,
    }, "not ready after healthTimeout (10m): a failure, past a budget of 0"


def test_a_keyed_rollout_is_resumed_by_its_own_hash_never_by_the_key_id_every_rollout_shares() -> None:
    key_id, target = "52268fff", "52268fff.c29e41d07a6b5f38"
    failed = replace(observed("a", digest="d2", status=ReleaseStatus.FAILED), fleet_digest=target, by_rollout=True)
    behind = replace(observed("b", digest="d1"), fleet_digest=f"{key_id}.eca0917b2d4c6e11")
    wants = [
        replace(desired(name, digest="d2", status={"observedGeneration": 1}), fleet_digest=target) for name in "ab"
    ]
    inventory = Inventory(desired=tuple(wants), owned=(failed, behind))

    def state_of_b(resume: str) -> tuple[State, str]:
        watch = replace(WATCH, rollout=Rollout(wave=Portion(count=1), failure_budget=Portion(count=0), resume=resume))
        (kind,) = rollouts(NOW, resume=False)([plan_kind(watch, inventory)])
        step = next(step for step in kind.plan.steps if step.key.name == "b")
        return step.state, step.reason

    state, reason = state_of_b("")
    assert state is State.ROLLOUT_HALTED and "rollout.resume: 'c29e41d07a6b'" in reason, reason
    assert state_of_b(key_id)[0] is State.ROLLOUT_HALTED, "the key id is every keyed digest's prefix"
    assert state_of_b("c29e41d07a6b")[0] is State.OUT_OF_SYNC


def test_a_tenants_own_failures_never_halt_or_stall_the_rollout_of_the_others() -> None:
    world = fleet(Rollout(canary=Portion(count=1), wave=Portion(count=3), failure_budget=Portion(count=0)))
    world.cr("zz-new", {"replicaCount": 1})
    world.helm.fail_apply("zz-new", "Error: INSTALL FAILED: the tenant's values are broken", times=9)
    world.edit("cache-9", {"replicaCount": 7})
    world.helm.fail_apply("cache-9", "Error: UPGRADE FAILED: the tenant's edit is broken", times=9)
    first = world.sync()
    assert upgraded(first) == ["cache-0"] and states(first)["zz-new"] is State.ABSENT
    rolled = ["cache-0"]
    for _ in range(4):
        later = world.sync()
        assert State.ROLLOUT_HALTED not in states(later).values(), "a new CR's and an edit's failures are theirs"
        rolled += upgraded(later)
    assert rolled == [f"cache-{i}" for i in range(9)], "wave after wave (the tenants' two count as done)"


def test_a_waves_failure_retried_and_failing_again_still_halts_the_rollout() -> None:
    world = fleet(Rollout(canary=Portion(count=1), wave=Portion(count=3), failure_budget=Portion(count=0)))
    world.helm.fail_apply("cache-0", "Error: UPGRADE FAILED: the new chart is broken", times=2)
    world.sync()
    assert states(world.sync())["cache-5"] is State.ROLLOUT_HALTED
    world.server.patch(CACHES, NAMESPACE, "cache-0", {"metadata": {"annotations": {"helmcr.io/retry": "1"}}})
    retried = world.sync()
    (again,) = [o for o in retried.outcomes if o.step.key.name == "cache-0"]
    assert (again.step.action, again.result.value, again.step.rollout) == (Action.UPGRADE, "failed", True), again
    assert states(world.sync())["cache-5"] is State.ROLLOUT_HALTED, "the retry was still the rollout's"


def test_a_cr_broken_before_the_change_goes_at_once_and_its_failure_halts_nobody() -> None:
    world = World()
    for name in NAMES:
        world.cr(name)
    world.watch = replace(
        world.watch,
        rollout=Rollout(canary=Portion(count=1), wave=Portion(count=3), failure_budget=Portion(count=0)),
        override_values={"bump": "v1"},
    )
    world.helm.fail_apply("cache-0", "Error: INSTALL FAILED: the tenant's values are broken", times=9)
    world.sync()
    world.watch = replace(world.watch, override_values={"bump": "v2"})
    first = world.sync()
    (broken,) = [o for o in first.outcomes if o.step.key.name == "cache-0"]
    assert (broken.step.action, broken.step.rollout, broken.ok) == (Action.UPGRADE, False, False), broken
    assert upgraded(first) == ["cache-1"], "the canary is the first CR that was working"
    second = world.sync()
    assert State.ROLLOUT_HALTED not in states(second).values(), "its failure is its own"
    assert upgraded(second) == ["cache-2", "cache-3"], "the next wave (the broken one, at the new chart, is done)"


def test_the_canarys_author_cannot_lift_a_halt_by_editing_it() -> None:
    world = fleet(Rollout(canary=Portion(count=1), wave=Portion(count=3), failure_budget=Portion(count=0)))
    world.helm.fail_apply("cache-0", "Error: UPGRADE FAILED: the new chart is broken", times=9)
    world.sync()
    assert states(world.sync())["cache-5"] is State.ROLLOUT_HALTED
    world.edit("cache-0", {"replicaCount": 2})
    world.sync()
    assert states(world.sync())["cache-5"] is State.ROLLOUT_HALTED, "still the rollout's release, failing"


def test_a_wave_that_fails_for_any_reason_halts_the_next_ones_a_rollout_fails_closed() -> None:
    world = fleet(Rollout(canary=Portion(count=1), wave=Portion(count=3), failure_budget=Portion(count=0)))
    world.helm.fail_render(
        "cache-0", "Error: UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress", times=9
    )
    world.sync()
    assert world.status("cache-0")["failedRollout"]
    world.helm.fail_apply("cache-1", "Error: UPGRADE FAILED: the new chart is broken", times=9)
    for _ in range(4):
        summary = world.sync()
        assert upgraded(summary) == [], "neither past the locked canary nor onto the next CR, run after run"
    assert states(summary)["cache-5"] is State.ROLLOUT_HALTED


def test_a_canary_whose_run_died_mid_upgrade_is_not_judged_yet_so_the_next_wave_waits() -> None:
    pending = replace(
        observed("a", digest="d2", status=ReleaseStatus.PENDING_UPGRADE),
        fleet_digest="f2",
        modified_at=NOW - 5,
        by_rollout=True,
    )
    behind = [replace(observed(name, digest="d1"), fleet_digest="f1") for name in ("b", "c")]
    wants = [replace(desired(name, digest="d2", status={"observedGeneration": 1}), fleet_digest="f2") for name in "abc"]
    watch = replace(WATCH, rollout=Rollout(wave=Portion(count=1)))  # health off: only helm's record can tell
    (kind,) = rollouts(NOW, resume=False)([plan_kind(watch, Inventory(desired=tuple(wants), owned=(pending, *behind)))])
    assert {step.key.name: step.state for step in kind.plan.steps} == {
        "a": State.LOCKED,
        "b": State.ROLLOUT_QUEUED,
        "c": State.ROLLOUT_QUEUED,
    }


def test_once_a_moved_release_came_good_its_authors_bad_edit_is_its_own_and_halts_nobody() -> None:
    world = fleet(Rollout(canary=Portion(count=1), wave=Portion(count=3), failure_budget=Portion(count=0)))
    world.sync()
    assert upgraded(world.sync()) == ["cache-1", "cache-2", "cache-3"]
    world.edit("cache-2", {"replicaCount": 9})
    world.helm.fail_apply("cache-2", "Error: UPGRADE FAILED: the tenant's edit is broken", times=9)
    edited = world.sync()
    (own,) = [o for o in edited.outcomes if o.step.key.name == "cache-2"]
    assert (own.ok, own.step.rollout) == (False, False), own
    assert upgraded(edited) == ["cache-4", "cache-5", "cache-6"], "the rollout goes on"


def test_after_a_halt_a_fixed_chart_is_a_new_rollout_canary_first_failed_releases_included() -> None:
    world = fleet(Rollout(canary=Portion(count=1), wave=Portion(count=3), failure_budget=Portion(count=0)))
    world.helm.fail_apply("cache-0", "Error: UPGRADE FAILED: the new chart is broken")
    world.sync()
    assert states(world.sync())["cache-5"] is State.ROLLOUT_HALTED
    world.watch = replace(world.watch, override_values={"bump": "v3"})
    assert upgraded(world.sync()) == ["cache-0"], "the failed canary is a member of the new rollout, not on its own"
