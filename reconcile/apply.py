"""Carry out a plan through helm, with bounded concurrency, and record an outcome for every step.

It never re-decides: the plan already holds one step per release, so no two helm operations ever touch one release.
A failing step becomes a failed outcome with helm's message (redacted) and the others go on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from reconcile.adapters.helm import Helm
from reconcile.clock import now
from reconcile.errors import HelmcrError
from reconcile.labels import ownership_labels
from reconcile.model import Action, HelmOptions, Outcome, Plan, Result, Step
from reconcile.redact import redact, secret_strings

UNCHANGED_RESULTS = {Action.SKIP: Result.SKIPPED, Action.BLOCKED: Result.BLOCKED}


def apply_plan(
    plan: Plan, helm: Helm, options: HelmOptions, concurrency: int, on_outcome: Callable[[Outcome], None]
) -> list[Outcome]:
    """Outcomes in plan order. ``on_outcome`` runs in the worker as each step ends, so a CR's status is written as
    soon as its release changed, not after the slowest helm of the run (and an interrupted run loses none)."""

    def settle(step: Step) -> Outcome:
        outcome = _carry_out(step, helm, options)
        on_outcome(outcome)
        return outcome

    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="helmcr-apply") as pool:
        return list(pool.map(settle, plan.steps))


def _carry_out(step: Step, helm: Helm, options: HelmOptions) -> Outcome:
    if step.action in UNCHANGED_RESULTS:
        return Outcome(step, UNCHANGED_RESULTS[step.action], message=step.reason)
    started = time.monotonic()
    operation = _install_or_upgrade if step.action in (Action.INSTALL, Action.UPGRADE) else _uninstall
    secrets = secret_strings(step.desired.values) if step.desired else []
    try:
        outcome = operation(step, helm, options, secrets)
    except HelmcrError as error:
        outcome = Outcome(step, Result.FAILED, message=redact(str(error), secrets))
    return _timed(outcome, started)


def _install_or_upgrade(step: Step, helm: Helm, options: HelmOptions, secrets: list[str]) -> Outcome:
    desired = step.desired
    assert desired is not None, "install and upgrade steps always carry the desired state"
    release = helm.upgrade(
        step.key, desired.chart, desired.values, ownership_labels(desired.owner, desired.digest), options, secrets
    )
    verb = "installed" if step.action is Action.INSTALL else "upgraded"
    return Outcome(
        step,
        Result.SUCCEEDED,
        message=f"{verb} release {step.key}: revision {release.revision}",
        revision=release.revision,
        chart_name=release.chart_name,
        chart_version=release.chart_version,
    )


def _uninstall(step: Step, helm: Helm, options: HelmOptions, secrets: list[str]) -> Outcome:
    helm.uninstall(step.key, options, secrets)
    return Outcome(step, Result.SUCCEEDED, message=f"uninstalled release {step.key}")


def _timed(outcome: Outcome, started: float) -> Outcome:
    return replace(outcome, seconds=time.monotonic() - started, finished_at=now())
