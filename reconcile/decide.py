"""Decide: the one table from state to action. A new state is a row here plus its rule in :mod:`reconcile.assess`
(or in a policy of :mod:`reconcile.policies`); nothing downstream looks at states to choose what to do.

The rows are in the order assess tries them, then the states only policies give; docs/planner.md shows this table
as :func:`rules_markdown` prints it, and a unit test keeps the two the same.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from reconcile.assess import Assessment
from reconcile.model import Action, State, Step


@dataclass(frozen=True)
class Rule:
    state: State
    action: Action
    when: str
    by: str = "assess"  # or the policy that gives this state
    quiet: bool = False  # nothing for a person to read: counted in the summary line, not a row of the table


RULES: tuple[Rule, ...] = (
    Rule(State.CONFLICT, Action.BLOCKED, "two or more CRs map to the same release (each CR is blocked)"),
    Rule(
        State.INVALID,
        Action.BLOCKED,
        "the CR's spec is not an object, its release name breaks Helm's rules (≤ 53 chars, DNS-1123), or a "
        "cluster-scoped kind has no `targetNamespace`",
    ),
    Rule(
        State.LOCKED,
        Action.BLOCKED,
        "a release with this name that helmcr did not create for this kind is `pending-*`; or an owned release "
        "(with or without its CR) is `pending-*` for less than `stuckAfter`",
    ),
    Rule(
        State.UNMANAGED,
        Action.BLOCKED,
        "a settled release with this name exists that helmcr did not create for this kind (and adoption is off, or "
        "another helmcr kind owns it)",
    ),
    Rule(
        State.ADOPTABLE,
        Action.ADOPT,
        "such a release was not created by helmcr, and the kind has `adopt: true`: labelled as helmcr's when a dry "
        "run shows the CR's values and chart would change nothing (no new revision), upgraded otherwise",
    ),
    Rule(State.ABSENT, Action.INSTALL, "no release yet, or its latest revision is `uninstalled` (kept history)"),
    Rule(
        State.STUCK,
        Action.REINSTALL,
        "the owned release has been `pending-install` (or `uninstalling`) for `stuckAfter` and never deployed: "
        "its record is marked failed, the release uninstalled and installed afresh",
    ),
    Rule(
        State.STUCK_UPGRADE,
        Action.UNLOCK_AND_UPGRADE,
        "the owned release has been `pending-*` for `stuckAfter` and deployed before: its record is marked failed, "
        "then upgraded",
    ),
    Rule(State.CONFLICT, Action.BLOCKED, "the owned release names another CR (UID) that still exists"),
    Rule(
        State.RECREATED,
        Action.UPGRADE,
        "the owned release names a CR UID that no longer exists (the CR was deleted and created again)",
    ),
    Rule(State.FAILED, Action.UPGRADE, "the latest revision is `failed` (or an unknown status): retried"),
    Rule(
        State.DRIFT_REPORTED,
        Action.SKIP,
        "in sync, but fields of its objects no longer hold what the release applied (or an object is gone), with "
        "`drift.mode: detect`; or the same drift came back right after a correction",
    ),
    Rule(
        State.DRIFTED,
        Action.UPGRADE,
        "in sync, but fields of its objects no longer hold what the release applied (or an object is gone), with "
        "`drift.mode: correct`: upgraded to the same chart and values",
    ),
    Rule(State.IN_SYNC, Action.SKIP, "the latest revision is `deployed` and the digests are equal", quiet=True),
    Rule(State.OUT_OF_SYNC, Action.UPGRADE, "the latest revision is `deployed` and the digests differ"),
    Rule(
        State.DESELECTED,
        Action.SKIP,
        "an owned release whose CR exists but is outside the run's selection (its namespaces, selector or shard)",
        quiet=True,
    ),
    Rule(
        State.OTHER_SHARD,
        Action.SKIP,
        "with `--shard i/n`: an owned release whose CR is gone and whose owner UID hashes to another shard (that "
        "shard uninstalls it)",
        quiet=True,
    ),
    Rule(State.UNKNOWN_OWNER, Action.SKIP, "an owned release without a CR, but the CR list was incomplete"),
    Rule(State.KEPT, Action.SKIP, "an owned release whose CR is gone, labelled `helmcr.io/keep=true`"),
    Rule(
        State.STUCK_ORPHAN,
        Action.UNLOCK_AND_UNINSTALL,
        "an owned release whose CR is gone has been `pending-*` for `stuckAfter`: marked failed, then uninstalled",
    ),
    Rule(State.ORPHANED, Action.UNINSTALL, "an owned release whose CR is gone"),
    Rule(
        State.BACKOFF,
        Action.WAIT,
        "an install or upgrade of the digest that failed last time, before `status.nextAttemptTime` (a new "
        "`helmcr.io/retry` annotation value lifts it)",
        by="backoff",
    ),
    Rule(
        State.CHURNING,
        Action.BLOCKED,
        "the release was upgraded `maxUpgradesPerDay` times in the last 24 hours (a loop: something keeps undoing "
        "it); a new `helmcr.io/retry` annotation value lifts it",
        by="churn guard",
    ),
    Rule(
        State.ROLLOUT_HALTED,
        Action.WAIT,
        "more releases failed at the kind's new chart or overrides (or are not ready `healthTimeout` after their "
        "upgrade) than the rollout's `failureBudget`: none more starts it until it is fixed or resumed",
        by="rollout",
    ),
    Rule(
        State.ROLLOUT_QUEUED,
        Action.QUEUE,
        "an upgrade to the kind's new chart or overrides (its CR unchanged) that is in a later wave of the kind's "
        "rollout, or waits for the wave before it to be healthy, or the rollout is paused",
        by="rollout",
    ),
    Rule(
        State.NAMESPACE_BUDGET,
        Action.QUEUE,
        "the run already makes `namespaceBudget` changes in this release's namespace: the rest wait for later runs",
        by="namespace budget",
    ),
    Rule(
        State.OVER_BUDGET,
        Action.BLOCKED,
        "the run would uninstall more than `--max-uninstalls` allows (all its uninstalls are blocked)",
        by="uninstall budget",
    ),
    Rule(
        State.UNREVIEWED,
        Action.HOLD,
        "`helmcr apply PLAN`: a change not in the saved plan, or whose CR, revision or digest changed since",
        by="approval",
    ),
)

ACTIONS: dict[State, Action] = {rule.state: rule.action for rule in RULES}
QUIET: frozenset[State] = frozenset(rule.state for rule in RULES if rule.quiet)


def decide(assessment: Assessment) -> Step:
    return Step(
        assessment.key,
        ACTIONS[assessment.state],
        assessment.state,
        assessment.reason,
        desired=assessment.desired,
        observed=assessment.observed,
        live=assessment.live,
    )


def restate(step: Step, state: State, reason: str) -> Step:
    """What a policy does: the same pair in another state, hence (by the table) another action."""
    return replace(step, state=state, action=ACTIONS[state], reason=reason)


def rules_markdown() -> str:
    lines = ["| state | when | action | given by |", "|---|---|---|---|"]
    lines += [f"| {rule.state} | {rule.when} | {rule.action} | {rule.by} |" for rule in RULES]
    return "\n".join(lines) + "\n"
