"""The run's policies: small pure transformations of a decided plan, applied in the order :func:`policies` lists.

Each may only move a step to another state (and so, by the table, another action) with its reason; none adds or
drops a step. Shards are not a policy: a run's shard narrows what it observes (reconcile.observe), like a selector.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace

from reconcile.clock import parse_time
from reconcile.decide import restate
from reconcile.labels import label_value
from reconcile.model import Action, Desired, Plan, ReleaseKey, State, Step
from reconcile.plan import KindPlan, Policy, per_step
from reconcile.rollout import rollouts
from reconcile.settings import FailurePolicy, Portion, RunOptions
from reconcile.upgrades import recent_upgrades


def policies(options: RunOptions, now: float) -> list[Policy]:
    ordered = [
        one_kind_per_release,
        backoff(now),
        churn_guard(now),
        rollouts(now, options.resume_rollouts),
        namespace_budget(options.namespace_budget),
        uninstall_budget(options.max_uninstalls, options.force_uninstalls),
    ]
    if options.approve is not None:
        ordered.append(approval(options.approve))
    return ordered


def one_kind_per_release(plans: Sequence[KindPlan]) -> list[KindPlan]:
    """Ownership across kinds: each kind sees only its own CRs, so a release that CRs of two kinds map to would be
    installed by both in one run. A change to a release that is not already this kind's, at a key another kind's
    CR asks for, is a conflict; the kind that owns a release keeps it (the other's CR is blocked by assess)."""
    claims: dict[ReleaseKey, set[str]] = {}
    for kind in plans:
        for step in kind.plan.steps:
            if step.desired is not None and not step.desired.invalid:
                claims.setdefault(step.key, set()).add(str(kind.watch))
    return [_without_cross_kind_changes(kind, claims) for kind in plans]


def _without_cross_kind_changes(kind: KindPlan, claims: dict[ReleaseKey, set[str]]) -> KindPlan:
    mine = str(kind.watch)

    def rule(step: Step) -> Step:
        others = sorted(claims.get(step.key, set()) - {mine})
        owner = step.observed.owner if step.observed is not None else None
        ours = owner is not None and (owner.group, owner.kind) == (label_value(kind.watch.group), kind.watch.kind)
        if not others or not step.action.changes_release or ours:
            return step
        return restate(
            step,
            State.CONFLICT,
            f"release {step.key} is also asked for by a CR of {', '.join(others)}; a release belongs to one kind: "
            "give the CRs distinct names, or each kind its own releaseName",
        )

    return per_step(rule)([kind])[0]


def backoff(now: float) -> Policy:
    """After a failure, the same desired state is tried again only when its backoff is over or a retry is asked."""

    def rule(step: Step) -> Step:
        desired = step.desired
        if desired is None or not step.action.changes_release or step.action.ends_in is Action.UNINSTALL:
            return step
        status = desired.status
        if status.get("failedDigest") != desired.digest:
            return step
        if _retry_asked(desired):
            return step
        if parse_time(str(status.get("nextAttemptTime") or "")) <= now:
            return step
        failures = desired.failures or 1
        return restate(
            step,
            State.BACKOFF,
            f"{failures} attempt(s) with these values failed; next attempt after {status.get('nextAttemptTime')} "
            "(annotate the CR with a new helmcr.io/retry value to try now)",
        )

    return per_step(rule)


def churn_guard(now: float) -> Policy:
    """A release upgraded over and over is in a loop with something (another controller, a person, a tool that
    rewrites its labels): each run fights it again, with a new revision each time. Past the kind's limits it stops,
    says so, and waits for someone to look (a new helmcr.io/retry value lets one more go)."""

    def apply(plans: Sequence[KindPlan]) -> list[KindPlan]:
        return [
            replace(kind, plan=Plan(tuple(_churn(step, kind.watch.policy, now) for step in kind.plan.steps)))
            for kind in plans
        ]

    return apply


def _churn(step: Step, policy: FailurePolicy, now: float) -> Step:
    desired = step.desired
    if desired is None or step.action.ends_in is not Action.UPGRADE or step.observed is None:
        return step
    if _retry_asked(desired):
        return step
    recent = recent_upgrades(desired.status, now)
    repeats = sum(1 for entry in recent if entry.get("digest") == desired.digest)
    if policy.max_repeats_per_day and repeats >= policy.max_repeats_per_day:
        why = f"upgraded to these very values {repeats} times in 24 hours (maxRepeatsPerDay)"
    elif policy.max_upgrades_per_day and len(recent) >= policy.max_upgrades_per_day:
        why = f"upgraded {len(recent)} times in 24 hours (maxUpgradesPerDay)"
    else:
        return step
    return restate(
        step,
        State.CHURNING,
        f"{why}: something keeps undoing what helmcr applies, so it stops fighting; find what changes release "
        f"{step.key} or its objects, then annotate the CR with a new helmcr.io/retry value",
    )


def namespace_budget(budget: int) -> Policy:
    """One tenant's hundred changed CRs must not take a whole run from everyone else's: each release namespace
    gets ``budget`` changes per run (in kind, then namespace/name order); the rest wait for the next runs."""

    def apply(plans: Sequence[KindPlan]) -> list[KindPlan]:
        if not budget:
            return list(plans)
        used: Counter[str] = Counter()

        def rule(step: Step) -> Step:
            if not step.action.changes_release:
                return step
            used[step.key.namespace] += 1
            if used[step.key.namespace] <= budget:
                return step
            return restate(
                step,
                State.NAMESPACE_BUDGET,
                f"namespace {step.key.namespace} already has {budget} changes in this run (namespaceBudget); "
                "this one goes in a later run",
            )

        return per_step(rule)(plans)

    return apply


def uninstall_budget(budget: Portion, force: bool) -> Policy:
    """Across the whole run: more uninstalls than the budget means something is wrong upstream (a CRD deleted, a
    namespace renamed, a config pointing elsewhere), so none of them happens unless forced; the rest goes on."""

    def apply(plans: Sequence[KindPlan]) -> list[KindPlan]:
        uninstalls = sum(kind.plan.count(Action.UNINSTALL) for kind in plans)
        owned = sum(kind.owned for kind in plans)
        if force or budget.allows(uninstalls, owned):
            return list(plans)
        reason = (
            f"{uninstalls} releases would be uninstalled, more than --max-uninstalls {budget} allows "
            f"(of {owned} owned); nothing was uninstalled. Check that the CRs are really gone, then rerun with "
            "--force-uninstalls or raise the limit"
        )
        return per_step(lambda step: _blocked_uninstall(step, reason))(plans)

    return apply


def approval(approve: Callable[[Step], str]) -> Policy:
    """``helmcr apply PLAN``: a change goes ahead only when it is the reviewed one; the rest is held, not blocked
    (nothing is wrong with it; it just was not reviewed)."""

    def rule(step: Step) -> Step:
        if not step.action.changes_release:
            return step
        objection = approve(step)
        return restate(step, State.UNREVIEWED, objection) if objection else step

    return per_step(rule)


def _blocked_uninstall(step: Step, reason: str) -> Step:
    return restate(step, State.OVER_BUDGET, reason) if step.action.ends_in is Action.UNINSTALL else step


def _retry_asked(desired: Desired) -> bool:
    """A helmcr.io/retry value no run has acted on yet: one more attempt, whatever backoff or churn guard says."""
    return bool(desired.retry_request) and desired.retry_request != desired.status.get("retryHandled")
