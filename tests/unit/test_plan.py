"""The planner's state → action table, one row per rule, and its invariants as properties."""

from __future__ import annotations

import datetime
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconcile.assess import Inventory
from reconcile.model import Action, Observed, Plan, ReleaseStatus, State
from reconcile.plan import KindPlan, plan, plan_kind, with_policies
from reconcile.policies import backoff, uninstall_budget
from reconcile.settings import FailurePolicy, Portion, Watch
from tests.unit.factories import desired, observed

WATCH = Watch(group="anywhere.io", version="v1alpha1", kind="Memcached", chart="/charts/memcached")


def only_step(result: Plan) -> tuple[Action, State]:
    assert len(result.steps) == 1, result.steps
    return result.steps[0].action, result.steps[0].state


TABLE = [
    ("new CR installs", Inventory(desired=(desired(),), owned=()), Action.INSTALL, State.ABSENT),
    ("same digest skips", Inventory(desired=(desired(),), owned=(observed(),)), Action.SKIP, State.IN_SYNC),
    (
        "changed digest upgrades",
        Inventory(desired=(desired(digest="d2"),), owned=(observed(),)),
        Action.UPGRADE,
        State.OUT_OF_SYNC,
    ),
    (
        "failed release retries",
        Inventory(desired=(desired(),), owned=(observed(status=ReleaseStatus.FAILED),)),
        Action.UPGRADE,
        State.FAILED,
    ),
    (
        "pending release is locked",
        Inventory(desired=(desired(digest="d2"),), owned=(observed(status=ReleaseStatus.PENDING_UPGRADE),)),
        Action.BLOCKED,
        State.LOCKED,
    ),
    (
        "invalid spec is blocked",
        Inventory(desired=(desired(invalid="spec must be an object"),), owned=(observed(),)),
        Action.BLOCKED,
        State.INVALID,
    ),
    ("orphan uninstalls", Inventory(desired=(), owned=(observed(),)), Action.UNINSTALL, State.ORPHANED),
    (
        "orphan kept when list incomplete",
        Inventory(desired=(), owned=(observed(),), complete=False),
        Action.SKIP,
        State.UNKNOWN_OWNER,
    ),
    (
        "orphan of a deselected CR is kept",
        Inventory(desired=(), owned=(observed(),), present_uids=frozenset({"uid-cache"})),
        Action.SKIP,
        State.DESELECTED,
    ),
    (
        "pending orphan waits",
        Inventory(desired=(), owned=(observed(status=ReleaseStatus.PENDING_INSTALL),)),
        Action.BLOCKED,
        State.LOCKED,
    ),
    (
        "foreign release blocks",
        Inventory(desired=(desired(),), owned=(), others=(observed(managed=False),)),
        Action.BLOCKED,
        State.UNMANAGED,
    ),
    (
        "foreign release adopted on opt-in",
        Inventory(desired=(desired(),), owned=(), others=(observed(managed=False),), adopt=True),
        Action.ADOPT,
        State.ADOPTABLE,
    ),
    (
        "another kind's release is never adopted",
        Inventory(desired=(desired(),), owned=(), others=(observed(kind="Redis"),), adopt=True),
        Action.BLOCKED,
        State.UNMANAGED,
    ),
    (
        "recreated CR takes over its release",
        Inventory(desired=(desired(uid="new"),), owned=(observed(uid="old"),)),
        Action.UPGRADE,
        State.RECREATED,
    ),
    (
        "release of another live CR is a conflict",
        Inventory(desired=(desired(uid="new"),), owned=(observed(uid="old"),), present_uids=frozenset({"old", "new"})),
        Action.BLOCKED,
        State.CONFLICT,
    ),
    (
        "uninstalled-with-history installs again",
        Inventory(desired=(desired(),), owned=(observed(status=ReleaseStatus.UNINSTALLED),)),
        Action.INSTALL,
        State.ABSENT,
    ),
]


@pytest.mark.parametrize(("inventory", "action", "state"), [row[1:] for row in TABLE], ids=[row[0] for row in TABLE])
def test_decision_table(inventory: Inventory, action: Action, state: State) -> None:
    assert only_step(plan(inventory)) == (action, state)


def test_two_crs_claiming_one_release_are_both_blocked_and_the_release_untouched() -> None:
    result = plan(
        Inventory(
            desired=(desired("a", release="shared"), desired("b", release="shared")),
            owned=(observed("shared", owner_name="a", uid="uid-a"),),
        )
    )
    assert [(s.action, s.state) for s in result.steps] == [(Action.BLOCKED, State.CONFLICT)] * 2
    assert "Memcached/team-a/a, Memcached/team-a/b" in result.steps[0].reason


def test_every_step_has_a_reason_and_steps_are_sorted_by_release() -> None:
    result = plan(Inventory(desired=(desired("b"), desired("a", digest="x")), owned=(observed("a"), observed("c"))))
    assert [str(s.key) for s in result.steps] == ["team-a/a", "team-a/b", "team-a/c"]
    assert all(step.reason for step in result.steps)


# Properties: random desired/observed sets over a small name space, so collisions are common.
names = st.sampled_from(["a", "b", "c", "d"])
statuses = st.sampled_from(list(ReleaseStatus))
desired_st = st.builds(
    lambda n, d, bad: desired(n, digest=d, invalid="bad" if bad else ""),
    names,
    st.sampled_from(["d1", "d2"]),
    st.booleans(),
)
observed_st = st.builds(
    lambda n, d, s, m, u: observed(n, digest=d, status=s, managed=m, uid=u),
    names,
    st.sampled_from(["d1", "d2"]),
    statuses,
    st.booleans(),
    st.sampled_from(["", "x"]),
)
inventories = st.builds(
    lambda ds, os_, complete, adopt: Inventory(
        desired=tuple(ds),
        owned=tuple(o for o in {o.key: o for o in os_}.values() if o.managed),
        others=tuple(o for o in {o.key: o for o in os_}.values() if not o.managed),
        complete=complete,
        adopt=adopt,
    ),
    st.lists(desired_st, max_size=5),
    st.lists(observed_st, max_size=5),
    st.booleans(),
    st.booleans(),
)


@given(inventories)
def test_at_most_one_changing_step_per_release(inventory: Inventory) -> None:
    keys = [s.key for s in plan(inventory).changes]
    assert len(keys) == len(set(keys))


@given(inventories)
def test_unowned_releases_are_never_touched_without_adoption(inventory: Inventory) -> None:
    foreign = {o.key for o in inventory.others}
    for step in plan(inventory).changes:
        if step.key in foreign:
            assert inventory.adopt and step.action is Action.ADOPT
        assert step.action.ends_in is not Action.UNINSTALL or step.key not in foreign


@given(inventories)
def test_incomplete_listing_never_uninstalls(inventory: Inventory) -> None:
    incomplete = Inventory(desired=inventory.desired, owned=inventory.owned, others=inventory.others, complete=False)
    assert plan(incomplete).count(Action.UNINSTALL) == 0


@given(inventories)
def test_in_sync_pairs_always_skip(inventory: Inventory) -> None:
    owned = {o.key: o for o in inventory.owned}
    claims = [d.key for d in inventory.desired]
    for step in plan(inventory).steps:
        match = owned.get(step.key)
        if (
            step.desired
            and not step.desired.invalid
            and match
            and claims.count(step.key) == 1
            and match.status is ReleaseStatus.DEPLOYED
            and match.digest == step.desired.digest
            and match.owner_uid == step.desired.owner.uid
        ):
            assert step.action is Action.SKIP


@given(inventories)
def test_pending_releases_are_never_operated_on(inventory: Inventory) -> None:
    pending = {o.key for o in (*inventory.owned, *inventory.others) if o.status.is_pending}
    assert not [s for s in plan(inventory).changes if s.key in pending]


# Stuck releases, backoff, keep and the uninstall budget.
NOW = 1_800_000_000.0
POLICY = FailurePolicy(stuck_after_seconds=600, backoff_seconds=60, max_backoff_seconds=3600)


def pending(status: ReleaseStatus, age: float, **kwargs: Any) -> Observed:
    return replace(observed(status=status, **kwargs), modified_at=NOW - age)


@pytest.mark.parametrize(
    ("status", "age", "ever_deployed", "has_cr", "expected"),
    [
        (ReleaseStatus.PENDING_UPGRADE, 60, True, True, (Action.BLOCKED, State.LOCKED)),
        (ReleaseStatus.PENDING_UPGRADE, 601, True, True, (Action.UNLOCK_AND_UPGRADE, State.STUCK_UPGRADE)),
        (ReleaseStatus.PENDING_ROLLBACK, 601, True, True, (Action.UNLOCK_AND_UPGRADE, State.STUCK_UPGRADE)),
        (ReleaseStatus.PENDING_INSTALL, 601, False, True, (Action.REINSTALL, State.STUCK)),
        (ReleaseStatus.PENDING_INSTALL, 601, False, False, (Action.UNLOCK_AND_UNINSTALL, State.STUCK_ORPHAN)),
        (ReleaseStatus.PENDING_INSTALL, 30, False, False, (Action.BLOCKED, State.LOCKED)),
    ],
)
def test_a_pending_release_is_recovered_only_once_it_is_stuck(
    status: ReleaseStatus, age: float, ever_deployed: bool, has_cr: bool, expected: tuple[Action, State]
) -> None:
    release = replace(pending(status, age), ever_deployed=ever_deployed)
    inventory = Inventory(desired=(desired(),) if has_cr else (), owned=(release,), now=NOW, policy=POLICY)
    assert only_step(plan(inventory)) == expected


def failed_status(digest: str = "d1", failures: int = 2, next_in: float = 120, handled: str = "") -> dict[str, Any]:
    moment = datetime.datetime.fromtimestamp(NOW + next_in, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"failedDigest": digest, "failures": failures, "nextAttemptTime": moment, "retryHandled": handled}


@pytest.mark.parametrize(
    ("status", "retry", "expected"),
    [
        (failed_status(), "", (Action.WAIT, State.BACKOFF)),
        (failed_status(next_in=-1), "", (Action.UPGRADE, State.FAILED)),
        (failed_status(digest="other"), "", (Action.UPGRADE, State.FAILED)),
        (failed_status(), "now-please", (Action.UPGRADE, State.FAILED)),
        (failed_status(handled="now-please"), "now-please", (Action.WAIT, State.BACKOFF)),
    ],
    ids=["waits", "backoff-over", "values-changed", "retry-annotation", "retry-already-handled"],
)
def test_failed_attempts_back_off_until_time_values_or_a_retry_request_change(
    status: dict[str, Any], retry: str, expected: tuple[Action, State]
) -> None:
    wanted = replace(desired(status=status), retry_request=retry)
    inventory = Inventory(desired=(wanted,), owned=(observed(status=ReleaseStatus.FAILED),), now=NOW, policy=POLICY)
    (kind,) = with_policies([plan_kind(WATCH, inventory)], [backoff(NOW)])
    assert only_step(kind.plan) == expected


def test_backoff_grows_exponentially_and_is_capped() -> None:
    assert [POLICY.backoff(n) for n in (1, 2, 3, 7, 20)] == [60, 120, 240, 3600, 3600]


def test_a_kept_release_outlives_its_cr() -> None:
    kept = replace(observed(), kept=True)
    assert only_step(plan(Inventory(desired=(), owned=(kept,)))) == (Action.SKIP, State.KEPT)


def test_uninstalls_over_the_budget_are_all_blocked_and_the_rest_goes_on() -> None:
    plans = [
        plan_kind(WATCH, Inventory(desired=(desired("x", digest="new"),), owned=tuple(observed(n) for n in "abcx")))
    ]

    def limited(budget: Portion, force: bool = False) -> list[KindPlan]:
        return with_policies(plans, [uninstall_budget(budget, force)])

    actions = [(s.key.name, s.action, s.state) for s in limited(Portion(count=2))[0].plan.steps]
    assert actions[:3] == [(n, Action.BLOCKED, State.OVER_BUDGET) for n in "abc"]
    assert actions[3] == ("x", Action.UPGRADE, State.OUT_OF_SYNC)
    assert limited(Portion(count=2), force=True) == plans
    assert limited(Portion(percent=75)) == plans
    assert limited(Portion(percent=50)) != plans
