"""Carry out a plan through helm, with bounded concurrency, and record an outcome for every step.

It never re-decides: the plan already holds one step per release, so no two helm operations ever touch one release.
A failing step becomes a failed outcome with helm's message (redacted) and the others go on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from reconcile.adapters.helm import Helm
from reconcile.adapters.helm_storage import mark_failed
from reconcile.adapters.kube import Kube
from reconcile.clock import now
from reconcile.config import duration_seconds
from reconcile.errors import HelmcrError
from reconcile.labels import ownership_labels
from reconcile.model import Action, HelmOptions, Outcome, Plan, Result, State, Step
from reconcile.redact import redact, secret_strings

log = logging.getLogger(__name__)
UNCHANGED_RESULTS = {Action.SKIP: Result.SKIPPED, Action.BLOCKED: Result.BLOCKED}

Gate = Callable[[Step, float], str]
"""Asked before each helm operation with its timeout in seconds: "" to go ahead, else why not (a signal arrived,
the time budget would be exceeded, the run lease was lost)."""


@dataclass(frozen=True)
class Executor:
    """What carrying out one kind's steps needs: helm, the API (to unlock a stuck release), the kind's helm options."""

    helm: Helm
    kube: Kube
    options: HelmOptions
    gate: Gate


def apply_plan(
    plan: Plan, executor: Executor, concurrency: int, on_outcome: Callable[[Outcome], None]
) -> list[Outcome]:
    """Outcomes in plan order. ``on_outcome`` runs in the worker as each step ends, so a CR's status is written as
    soon as its release changed, not after the slowest helm of the run (and an interrupted run loses none)."""

    def settle(step: Step) -> Outcome:
        outcome = _carry_out(step, executor)
        on_outcome(outcome)
        return outcome

    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="helmcr-apply") as pool:
        return list(pool.map(settle, plan.steps))


def _carry_out(step: Step, executor: Executor) -> Outcome:
    if step.action in UNCHANGED_RESULTS:
        return Outcome(step, UNCHANGED_RESULTS[step.action], message=step.reason)
    refusal = executor.gate(step, duration_seconds(executor.options.timeout))
    if refusal:
        return Outcome(step, Result.NOT_STARTED, message=f"not started: {refusal}")
    log.info("%s %s: %s", step.action, step.key, step.reason)
    started = time.monotonic()
    secrets = secret_strings(step.desired.values) if step.desired else []
    try:
        if step.state is State.STUCK:
            _unlock(step, executor, secrets)
        if step.action is Action.UNINSTALL:
            outcome = _uninstall(step, executor, secrets)
        else:
            outcome = _install_or_upgrade(step, executor, secrets)
    except HelmcrError as error:
        outcome = Outcome(step, Result.FAILED, message=redact(str(error), secrets))
    return replace(outcome, seconds=time.monotonic() - started, finished_at=now())


def _unlock(step: Step, executor: Executor, secrets: list[str]) -> None:
    """The stuck record is marked failed first (helm refuses to touch a pending release); a release that never got
    past pending-install is then uninstalled, so the install starts clean."""
    observed = step.observed
    assert observed is not None, "a stuck step always carries the stuck release"
    why = f"helmcr: {observed.status} since {observed.modified_at:.0f} (epoch s), its operation died; marked failed"
    mark_failed(executor.kube, step.key, observed.revision, why)
    if step.action is Action.INSTALL:
        executor.helm.uninstall(step.key, executor.options, secrets)


def _install_or_upgrade(step: Step, executor: Executor, secrets: list[str]) -> Outcome:
    desired = step.desired
    assert desired is not None, "install and upgrade steps always carry the desired state"
    labels = ownership_labels(desired.owner, desired.digest, desired.keep)
    revision = executor.helm.upgrade(step.key, desired.chart, desired.values, labels, executor.options, secrets)
    verb = "installed" if step.action is Action.INSTALL else "upgraded"
    return Outcome(
        step,
        Result.SUCCEEDED,
        message=f"{verb} release {step.key}: revision {revision}",
        revision=revision,
    )


def _uninstall(step: Step, executor: Executor, secrets: list[str]) -> Outcome:
    executor.helm.uninstall(step.key, executor.options, secrets)
    return Outcome(step, Result.SUCCEEDED, message=f"uninstalled release {step.key}")
