"""The planner: pure functions from what CRs ask for and what releases exist to one decided step per release.

No I/O happens here, so the preview (``--dry-run``) and the real run share every decision, and the rules can be
tested exhaustively. The state → action table (docs/planner.md) is ``_decide_for_desired`` and ``_decide_orphan``.

Invariants (property-tested): a release helmcr does not own is never upgraded or uninstalled unless adoption is
on; each release key gets at most one step that changes it; an in-sync pair is always skipped; when the CR list was
incomplete nothing is uninstalled.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from reconcile.config import UninstallBudget
from reconcile.model import Action, Desired, FailurePolicy, Observed, Plan, ReleaseKey, ReleaseStatus, State, Step


@dataclass(frozen=True)
class Inventory:
    """Everything observed for one watched kind, as the planner's single input.

    ``owned`` are the releases whose labels say helmcr created them for this kind; ``others`` are releases at a key
    some CR wants that helmcr did not create for this kind. ``present_uids`` holds every CR of the kind that
    exists, selected or not, so a release is only called orphaned when its CR is really gone.
    """

    desired: tuple[Desired, ...]
    owned: tuple[Observed, ...]
    others: tuple[Observed, ...] = ()
    present_uids: frozenset[str] = field(default_factory=frozenset)
    complete: bool = True
    adopt: bool = False
    now: float = 0.0  # epoch seconds; decides which pending releases are stuck and which backoffs are over
    policy: FailurePolicy = field(default_factory=FailurePolicy)


def plan(inventory: Inventory) -> Plan:
    wanted: dict[ReleaseKey, list[Desired]] = defaultdict(list)
    for desired in inventory.desired:
        wanted[desired.key].append(desired)
    owned = {observed.key: observed for observed in inventory.owned}
    others = {observed.key: observed for observed in inventory.others}
    steps: list[Step] = []
    for key in sorted(wanted.keys() | owned.keys()):
        claimants = wanted.get(key, [])
        if len(claimants) > 1:
            steps.extend(_conflict(key, claimants))
        elif claimants:
            steps.append(
                _respect_backoff(
                    _decide_for_desired(claimants[0], owned.get(key), others.get(key), inventory), inventory
                )
            )
        else:
            steps.append(_decide_orphan(owned[key], inventory))
    return Plan(steps=tuple(steps))


def _decide_for_desired(desired: Desired, owned: Observed | None, other: Observed | None, inv: Inventory) -> Step:
    def step(action: Action, state: State, reason: str, observed: Observed | None = owned) -> Step:
        return Step(desired.key, action, state, reason, desired=desired, observed=observed)

    if desired.invalid:
        return step(Action.BLOCKED, State.INVALID, desired.invalid)
    if owned is None and other is not None:
        return _decide_unowned(desired, other, inv.adopt)
    if owned is None:
        return step(Action.INSTALL, State.ABSENT, f"release {desired.key} does not exist yet")
    if owned.status.is_pending:
        return _pending(step, owned, inv, Action.UPGRADE)
    if owned.owner_uid and desired.owner.uid and owned.owner_uid != desired.owner.uid:  # no uid: a CR file
        if owned.owner_uid in inv.present_uids:
            return step(
                Action.BLOCKED,
                State.CONFLICT,
                f"release {desired.key} belongs to another {desired.owner.kind} (uid {owned.owner_uid})",
            )
        return step(
            Action.UPGRADE,
            State.RECREATED,
            f"{desired.owner} was deleted and created again; taking over its release {desired.key}",
        )
    if owned.status is ReleaseStatus.FAILED or owned.status is ReleaseStatus.UNKNOWN:
        return step(
            Action.UPGRADE,
            State.FAILED,
            f"revision {owned.revision} of release {desired.key} is {owned.status}; trying again",
        )
    if owned.digest == desired.digest and owned.status is ReleaseStatus.DEPLOYED:
        return step(Action.SKIP, State.IN_SYNC, f"revision {owned.revision} is deployed and in sync")
    if owned.status is not ReleaseStatus.DEPLOYED:
        return step(Action.INSTALL, State.ABSENT, f"release {desired.key} is {owned.status}; installing it again")
    return step(
        Action.UPGRADE,
        State.OUT_OF_SYNC,
        f"the chart or values changed since revision {owned.revision} (digest {_short(owned.digest)} → "
        f"{_short(desired.digest)})",
    )


def _decide_unowned(desired: Desired, other: Observed, adopt: bool) -> Step:
    def step(action: Action, state: State, reason: str) -> Step:
        return Step(desired.key, action, state, reason, desired=desired, observed=other)

    origin = "was created by another helmcr kind" if other.managed else "was not created by helmcr"
    if other.status.is_pending:
        return step(Action.BLOCKED, State.LOCKED, f"release {desired.key} {origin} and is {other.status}")
    if other.managed or not adopt:
        hint = "" if other.managed else "; set adopt: true for this kind to take it over"
        return step(Action.BLOCKED, State.UNMANAGED, f"release {desired.key} already exists and {origin}{hint}")
    return step(Action.UPGRADE, State.UNMANAGED, f"adopting release {desired.key}, which {origin} (adopt: true)")


def _decide_orphan(owned: Observed, inv: Inventory) -> Step:
    def step(action: Action, state: State, reason: str) -> Step:
        return Step(owned.key, action, state, reason, observed=owned)

    if owned.owner_uid in inv.present_uids:
        return step(
            Action.SKIP,
            State.DESELECTED,
            f"its CR exists but is outside this run's selection; release {owned.key} is kept",
        )
    if not inv.complete:
        return step(
            Action.SKIP,
            State.UNKNOWN_OWNER,
            "the list of CRs was incomplete, so a missing CR cannot be told from an unlisted one",
        )
    if owned.kept:
        return step(Action.SKIP, State.KEPT, f"its CR is gone, but release {owned.key} is labelled helmcr.io/keep=true")
    if owned.status.is_pending:
        return _pending(step, owned, inv, Action.UNINSTALL)
    return step(Action.UNINSTALL, State.ORPHANED, f"its CR is gone; uninstalling release {owned.key}")


def _pending(step: Callable[[Action, State, str], Step], owned: Observed, inv: Inventory, then: Action) -> Step:
    """A pending release is someone's operation in progress, unless it has been pending for longer than anyone's
    timeout: then the operation died with its process (OOM, SIGKILL, node lost) and the release is recovered."""
    age = inv.now - owned.modified_at
    pending = f"release {owned.key} is {owned.status} at revision {owned.revision}"
    if not owned.modified_at or age < inv.policy.stuck_after_seconds:
        return step(
            Action.BLOCKED,
            State.LOCKED,
            f"{pending}: another operation is in progress (it counts as stuck after "
            f"{_minutes(inv.policy.stuck_after_seconds)})",
        )
    if then is Action.UNINSTALL:
        recovery = "uninstalling it"
    elif owned.status in (ReleaseStatus.PENDING_INSTALL, ReleaseStatus.UNINSTALLING) and not owned.ever_deployed:
        then, recovery = Action.INSTALL, "uninstalling it and installing again"
    else:
        recovery = f"marking revision {owned.revision} failed, then upgrading"
    return step(then, State.STUCK, f"{pending} for {_minutes(age)}, so its operation died; {recovery}")


def _respect_backoff(step: Step, inv: Inventory) -> Step:
    """After a failure, the same desired state is tried again only when its backoff is over or a retry is asked."""
    desired = step.desired
    if desired is None or step.action not in (Action.INSTALL, Action.UPGRADE):
        return step
    status = desired.status
    if status.get("failedDigest") != desired.digest:
        return step
    if desired.retry_request and desired.retry_request != status.get("retryHandled"):
        return step
    next_attempt = _epoch(str(status.get("nextAttemptTime") or ""))
    if next_attempt <= inv.now:
        return step
    failures = int(status.get("failures") or 1)
    return Step(
        step.key,
        Action.SKIP,
        State.BACKOFF,
        f"{failures} attempt(s) with these values failed; next attempt after {status.get('nextAttemptTime')} "
        "(annotate the CR with a new helmcr.io/retry value to try now)",
        desired=desired,
        observed=step.observed,
    )


def _conflict(key: ReleaseKey, claimants: Iterable[Desired]) -> list[Step]:
    names = ", ".join(sorted(str(d.owner) for d in claimants))
    return [
        Step(
            key,
            Action.BLOCKED,
            State.CONFLICT,
            f"{names} all map to release {key}; give each a distinct name",
            desired=desired,
        )
        for desired in claimants
    ]


def _short(digest: str) -> str:
    return digest[:8] or "none"


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f}m" if seconds >= 120 else f"{seconds:.0f}s"


def _epoch(timestamp: str) -> float:
    try:
        return datetime.datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def enforce_uninstall_budget(plans: list[Plan], budget: UninstallBudget, owned: int, force: bool) -> list[Plan]:
    """Across the whole run: more uninstalls than the budget means something is wrong upstream (a CRD deleted, a
    namespace renamed, a config pointing elsewhere), so none of them happens unless forced; the rest goes on."""
    uninstalls = sum(plan.count(Action.UNINSTALL) for plan in plans)
    if force or budget.allows(uninstalls, owned):
        return plans
    reason = (
        f"{uninstalls} releases would be uninstalled, more than --max-uninstalls {budget} allows "
        f"(of {owned} owned); nothing was uninstalled. Check that the CRs are really gone, then rerun with "
        "--force-uninstalls or raise the limit"
    )
    return [
        Plan(
            steps=tuple(
                replace(step, action=Action.BLOCKED, state=State.OVER_BUDGET, reason=reason)
                if step.action is Action.UNINSTALL
                else step
                for step in plan.steps
            ),
        )
        for plan in plans
    ]
