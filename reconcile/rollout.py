"""Rollout waves: a change to a whole kind (its chart, or the config's overrideValues) reaches its releases a wave
per run, not all in the run that sees it. Pure: it reads only the plan, so a run can die anywhere and the next one
continues, since the progress is in the cluster (each release's ``helmcr.io/fleet-digest`` label, its record's
status, its CR's status and health).

Which changes wait: an upgrade that would take a release to the kind's new chart or overrides while its CR's spec
is as it was (``metadata.generation`` equals ``status.observedGeneration``). A CR whose author changed it, a new CR
and a recreated one go at once, with the new chart: holding them back would hold back their authors, not the fleet.

One run, for each kind with ``rollout.wave``:

1. ``done``: its releases already at the new fleet digest (whatever brought them there), or whose CR records a
   wave's failed attempt at this fleet digest (``status.failedRollout``: helm may have written no revision);
2. ``failing``: of those a wave moved (labelled ``helmcr.io/rollout=true``, or so recorded in the CR's status),
   the ones whose latest revision failed, or, with ``health: true``, that are still not ready ``healthTimeout``
   after their upgrade; more than ``failureBudget`` of them halts the rollout (state ``rollout-halted``), until
   the chart is fixed, ``rollout.resume`` names this digest, or ``--resume-rollout``. Any failure of a wave's
   attempt counts (a rollout fails closed). A new CR, or one edited before its wave came, that fails is its
   author's failure, not the change's: it never halts or holds anyone else's release;
3. ``settling``: those a wave moved that helm is still at (pending) or, with ``health: true``, that are not
   ready yet (or not judged yet): the next wave waits for them;
4. otherwise the next wave goes: the canary first (``canarySelector`` CRs, or the first ``canary`` releases in
   namespace/name order), then ``wave`` releases per run; the rest are ``rollout-queued`` with their wave number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from reconcile.decide import restate
from reconcile.desired import digest_body
from reconcile.model import Action, Plan, ReleaseStatus, State, Step
from reconcile.plan import KindPlan, Policy
from reconcile.settings import Rollout

SHOWN = 3  # releases a reason names before "and N more"


def rollouts(now: float, resume: bool) -> Policy:
    def apply(plans: Sequence[KindPlan]) -> list[KindPlan]:
        return [_rollout(kind, now, resume) if kind.watch.rollout.active else kind for kind in plans]

    return apply


def fleet_change(step: Step) -> bool:
    """An upgrade of an owned release to the kind's new chart or overrides that its CR's author did not ask for."""
    desired, observed = step.desired, step.observed
    return (
        desired is not None
        and observed is not None
        and observed.managed
        and step.action.ends_in is Action.UPGRADE
        and observed.fleet_digest != desired.fleet_digest
        and desired.generation == desired.status.get("observedGeneration")  # else its author changed it
        and not _failed_outside(step)  # its author's attempt, failed: retried at once, as any edit would be
    )


@dataclass(frozen=True)
class Progress:
    """Where one kind's rollout stands, as this run found it."""

    target: str  # the fleet digest being rolled out
    total: int
    done: tuple[Step, ...]
    failing: tuple[Step, ...]
    settling: tuple[Step, ...]
    canary: int  # releases in wave 0
    wave: int  # releases in each later wave

    def wave_of(self, position: int) -> int:
        """Wave 0 is the canary; ``position`` counts the releases in rollout order, done ones first."""
        if position < self.canary:
            return 0
        return 1 + (position - self.canary) // self.wave

    @property
    def waves(self) -> int:
        """The last wave's number."""
        return self.wave_of(self.total - 1)


def _rollout(kind: KindPlan, now: float, resume: bool) -> KindPlan:
    rollout = kind.watch.rollout
    steps = tuple(map(_continued, kind.plan.steps))
    behind = [step for step in steps if fleet_change(step)]
    if not behind:
        return replace(kind, plan=Plan(steps))
    progress = _progress(steps, behind, now, rollout, kind.watch.live.health)
    ordered = _ordered(behind, rollout)
    restated = dict(_decisions(progress, ordered, rollout, resume))
    return replace(kind, plan=Plan(tuple(restated.get(id(step), step) for step in steps)))


def _progress(steps: Sequence[Step], behind: list[Step], now: float, rollout: Rollout, health: bool) -> Progress:
    assert behind[0].desired is not None
    target = behind[0].desired.fleet_digest
    done = tuple(
        step
        for step in steps
        if step.desired is not None
        and step.observed is not None
        and (step.observed.fleet_digest == target or _wave_failed(step))
    )
    moved = [step for step in done if _moved(step)]  # the rollout's own: the only evidence about the change
    unready = {id(step): _unready_for(step, now) if health else None for step in moved}

    def too_long(step: Step) -> bool:
        seconds = unready[id(step)]
        return seconds is not None and seconds >= rollout.health_timeout_seconds

    failing = tuple(step for step in moved if _failed(step) or too_long(step))
    settling = tuple(
        step for step in moved if step not in failing and (unready[id(step)] is not None or _pending(step))
    )
    total = len(done) + len(behind)
    chosen = sum(1 for step in (*done, *behind) if _chosen(step, rollout))
    canary = rollout.canary.of(total) if rollout.canary.given else chosen
    wanted = rollout.canary.given or rollout.canary_selector is not None  # a selector matching nothing: still one
    canary = min(total, max(canary, 1 if wanted else 0))
    wave = max(1, rollout.wave.of(total)) if rollout.wave.given else total
    return Progress(target, total, done, failing, settling, canary, wave)


def _continued(step: Step) -> Step:
    """A change to a release a wave moved that has not come good yet (failed, refused, pending, not ready) is still
    the rollout's, whoever makes it (a retry, its author's edit): labelled so again, its failure keeps counting, so
    no tenant lifts a halt by editing the canary. Once it came good, an edit of it is its author's own."""
    desired, observed = step.desired, step.observed
    if desired is None or observed is None or not step.action.changes_release or not _moved(step):
        return step
    unready = _judged_ready(step) is False
    return replace(step, rollout=True) if _failed(step) or _pending(step) or unready else step


def _pending(step: Step) -> bool:
    """helm is (or was, when it died) still at it: not judged yet, so the next wave waits."""
    return step.observed is not None and step.observed.status.is_pending


def _moved(step: Step) -> bool:
    """Taken to the new chart or overrides by a wave, not by its CR's author (a new CR, an edit): only those
    tell whether the kind's change is good. Else any tenant could halt everyone's rollout with one bad CR."""
    desired, observed = step.desired, step.observed
    assert desired is not None and observed is not None
    return (observed.by_rollout and observed.fleet_digest == desired.fleet_digest) or _wave_failed(step)


def _wave_failed(step: Step) -> bool:
    """Its CR records that a wave's attempt at this fleet digest failed there, however (until one succeeds): the
    only trace when helm wrote no revision (the object check's dry run refused it, the release was locked)."""
    desired = step.desired
    assert desired is not None
    return desired.status.get("failedRollout") == desired.fleet_digest


def _failed_outside(step: Step) -> bool:
    """Its last attempt failed, and not as any rollout's wave: the CR was broken before the wave came (a bad edit,
    bad values), so its next failure says nothing about the kind's change. One a past rollout's bad chart failed
    is no tenant's fault: it goes with the waves."""
    desired = step.desired
    assert desired is not None
    return bool(desired.status.get("failedDigest")) and not desired.status.get("failedRollout")


def _failed(step: Step) -> bool:
    """Its latest revision failed at the kind's new chart, or its CR records a wave's failure there."""
    desired, observed = step.desired, step.observed
    assert desired is not None and observed is not None
    failed_here = observed.status is ReleaseStatus.FAILED and observed.fleet_digest == desired.fleet_digest
    return failed_here or _wave_failed(step)


def _unready_for(step: Step, now: float) -> float | None:
    """For how long since its release was last written it has not been judged ready; None when it is ready."""
    observed = step.observed
    assert observed is not None
    if _judged_ready(step):
        return None
    return max(0.0, now - observed.modified_at) if observed.modified_at else 0.0


def _judged_ready(step: Step) -> bool | None:
    """Whether this run found the release's objects ready; None when it did not judge them (health off, nothing
    deployed to read)."""
    live = step.live
    if live is None or not live.read or not live.health:
        return None
    return not live.not_ready


def _ordered(behind: list[Step], rollout: Rollout) -> list[Step]:
    """The canary's CRs first, then namespace/name order: stable across runs, so a wave is the same set each time
    a run looks."""
    return sorted(behind, key=lambda step: (not _chosen(step, rollout), step.key))


def _chosen(step: Step, rollout: Rollout) -> bool:
    selector = rollout.canary_selector
    return selector is not None and step.desired is not None and selector.matches(step.desired.labels)


def _decisions(progress: Progress, ordered: list[Step], rollout: Rollout, resume: bool) -> list[tuple[int, Step]]:
    done = len(progress.done)
    budget = rollout.failure_budget.of(progress.total)
    last = progress.waves
    resumed = resume or bool(rollout.resume and digest_body(progress.target).startswith(rollout.resume))
    if rollout.paused:
        why = f"the kind's rollout is paused (rollout.paused): {done} of {progress.total} releases have its new chart"
        return [(id(step), restate(step, State.ROLLOUT_QUEUED, why)) for step in ordered]
    if len(progress.failing) > budget and not resumed:
        why = (
            f"rollout halted: {len(progress.failing)} of the {done} releases at the new chart or overrides failed or "
            f"are not ready ({_names(progress.failing)}), more than its failure budget {rollout.failure_budget} "
            f"allows; fix the chart, or resume with rollout.resume: {digest_body(progress.target)[:12]!r} in the "
            "config (or one run with --resume-rollout)"
        )
        return [(id(step), restate(step, State.ROLLOUT_HALTED, why)) for step in ordered]
    if progress.settling:
        why = (
            f"rollout wave {progress.wave_of(done - 1)} of {last} is not healthy yet "
            f"({_names(progress.settling)}); the next wave waits for it"
        )
        return [(id(step), restate(step, State.ROLLOUT_QUEUED, why)) for step in ordered]
    current = progress.wave_of(done)
    decisions = []
    for offset, step in enumerate(ordered):
        wave = progress.wave_of(done + offset)
        label = "the canary" if wave == 0 else f"wave {wave} of {last}"
        if wave == current:
            rolled = replace(step, reason=f"{step.reason} (rollout: {label})", rollout=True)
            decisions.append((id(step), rolled))
        else:
            why = f"rollout: in {label}, after wave {current} is done and healthy ({done} of {progress.total} done)"
            decisions.append((id(step), restate(step, State.ROLLOUT_QUEUED, why)))
    return decisions


def _names(steps: Sequence[Step]) -> str:
    names = [str(step.key) for step in steps[:SHOWN]]
    more = f" and {len(steps) - SHOWN} more" if len(steps) > SHOWN else ""
    return ", ".join(names) + more
