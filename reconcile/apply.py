"""Carry out a plan through helm, with bounded concurrency, and record an outcome for every step.

It only executes: each action has one way of being done (:data:`ACTIONS`), chosen by the action alone, and the
plan already holds one step per release, so no two helm operations ever touch one release. A failing step becomes
a failed outcome with helm's message (redacted) and its error's category, and the others go on. A step that
installs or upgrades from a remote chart first gets the run's pull of it (:mod:`reconcile.pulls`), before anything
of its release is touched.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from typing import Any

from reconcile.adapters.helm import Helm
from reconcile.adapters.helm_storage import label_record, mark_failed, read_record, read_release
from reconcile.adapters.kube import Kube
from reconcile.adapters.ownership import Served, claim
from reconcile.clock import now
from reconcile.desired import secrets_of
from reconcile.errors import HelmcrError, HelmError, KubeError, ObjectsRefused
from reconcile.labels import ownership_labels
from reconcile.manifests import release_manifest, written_objects
from reconcile.model import Action, Outcome, Plan, ReleaseStatus, Result, Step, unchanged_outcome
from reconcile.objectcheck import Namespaced, refusal_message, refusals
from reconcile.pulls import RemoteCharts
from reconcile.redact import redact
from reconcile.settings import HelmOptions, ObjectRules

log = logging.getLogger(__name__)
CRDS_MISSING = "ensure CRDs are installed first"  # helm's words when a manifest names a kind not served yet
SIGNAL_LATENCY_SECONDS = 0.1  # how soon the main thread runs a signal handler while steps run

Gate = Callable[[Step, float], str]
"""Asked before each helm operation with its timeout in seconds: "" to go ahead, else why not (a signal arrived,
the time budget would be exceeded, the run lease was lost). It says nothing about the step itself: the plan did."""


@dataclass(frozen=True)
class Executor:
    """What carrying out one kind's steps needs: helm, the API (to unlock a stuck release), the kind's helm options,
    what its releases may hold (checked on a dry run first, unless the rules allow everything), and the run's
    remote charts."""

    helm: Helm
    kube: Kube
    options: HelmOptions
    gate: Gate
    objects: ObjectRules
    namespaced: Namespaced  # the run's one discovery cache (the source's)
    charts: RemoteCharts  # the run's one, shared by every kind: a chart is pulled once whichever kinds use it
    owners: Served | None = None  # discovery, when the release's objects get owner references to their CR
    owner_api_version: str = ""  # the CRs' apiVersion, for those references


def apply_plan(
    plan: Plan, executor: Executor, concurrency: int, on_outcome: Callable[[Outcome], None]
) -> list[Outcome]:
    """Outcomes in plan order. ``on_outcome`` runs in the worker as each step ends, so a CR's status is written as
    soon as its release changed, not after the slowest helm of the run (and an interrupted run loses none)."""

    def settle(step: Step) -> Outcome:
        outcome = _carry_out(step, executor)
        on_outcome(outcome)
        return outcome

    def settle_all(steps: Sequence[tuple[int, Step]]) -> list[tuple[int, Outcome]]:
        return [(index, settle(step)) for index, step in steps]

    workers = max(1, concurrency)
    changing = [(index, step) for index, step in enumerate(plan.steps) if step.action.changes_release]
    unchanged = [(index, step) for index, step in enumerate(plan.steps) if not step.action.changes_release]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="helmcr-apply") as pool:
        # one task per change, so each helm starts as soon as a worker is free; the steps that change nothing (only
        # their status may) in one task per worker: 10,000 in-sync steps as 10,000 tasks cost a second of locking
        futures = [pool.submit(settle_all, [step]) for step in changing]
        futures += [pool.submit(settle_all, unchanged[start::workers]) for start in range(min(workers, len(unchanged)))]
        pending = set(futures)
        while pending:
            # Timed waits, not one blocking wait: the kernel may hand SIGTERM to a worker thread, and Python runs
            # the handler only when the main thread wakes; blocked until a step ends, it would let the next start.
            _, pending = wait(pending, timeout=SIGNAL_LATENCY_SECONDS)
    outcomes = dict(outcome for future in futures for outcome in future.result())
    return [outcomes[index] for index in range(len(plan.steps))]


def _carry_out(step: Step, executor: Executor) -> Outcome:
    if not step.action.changes_release:
        return unchanged_outcome(step)
    refusal = executor.gate(step, executor.options.timeout_seconds)
    if refusal:
        return Outcome(step, Result.NOT_STARTED, message=f"not started: {refusal}")
    log.info("%s %s: %s", step.action, step.key, step.reason)
    started = time.monotonic()
    secrets = secrets_of(step.desired) if step.desired else []
    try:
        local = _with_local_chart(step, executor.charts)
        secrets = secrets_of(local.desired) if local.desired else secrets  # the pulled chart's schema may add some
        outcome = replace(ACTIONS[step.action](local, executor, secrets), step=step)
    except HelmcrError as error:
        outcome = Outcome(step, Result.FAILED, message=redact(str(error), secrets), error=error.category)
    return replace(outcome, seconds=time.monotonic() - started, finished_at=now())


def _with_local_chart(step: Step, charts: RemoteCharts) -> Step:
    """The step with its chart as helm is to be given it. An uninstall needs no chart: it never waits for a pull,
    and is never failed by one."""
    desired = step.desired
    if desired is None or step.action.ends_in is Action.UNINSTALL:
        return step
    return replace(step, desired=replace(desired, chart=charts.local(desired.chart)))


def _upgrade(step: Step, executor: Executor, secrets: Sequence[str]) -> Outcome:
    """``helm upgrade --install``, for an install as for an upgrade: a release created meanwhile is not lost."""
    _check(step, executor, lambda: _rendered(step, executor, secrets))
    return _helm_upgrade(step, executor, secrets)


def _check(step: Step, executor: Executor, manifest: Callable[[], str]) -> None:
    """The kind's object rules on what the operation would apply; rendered only when there is something to check."""
    desired = step.desired
    assert desired is not None, "install and upgrade steps always carry the desired state"
    if executor.objects.unbounded:
        return
    account = executor.options.service_account
    problems = refusals(
        manifest(), step.key.namespace, executor.objects, executor.namespaced, account, desired.chart.crd_kinds
    )
    if problems:
        raise ObjectsRefused(refusal_message(problems))


def _adopt(step: Step, executor: Executor, secrets: Sequence[str]) -> Outcome:
    """A release someone else installed (operator-sdk, a person with helm) becomes helmcr's. When its chart and
    values are the CR's and a dry run renders the deployed objects, only its record's labels change: no new
    revision, nothing re-applied. Anything else is an upgrade like any other."""
    desired, observed = step.desired, step.observed
    assert desired is not None and observed is not None, "an adoptable step carries both sides"
    rendered = _rendered(step, executor, secrets)
    _check(step, executor, lambda: rendered)
    deployed, resource_version = read_record(executor.kube, step.key, observed.revision)
    if observed.status is not ReleaseStatus.DEPLOYED or not _renders_as_deployed(step, executor, rendered, deployed):
        return _helm_upgrade(step, executor, secrets)
    labels = ownership_labels(desired.owner, desired.digest, desired.keep, desired.fleet_digest, step.rollout)
    label_record(executor.kube, step.key, observed.revision, labels, resource_version)
    message = (
        f"adopted release {step.key} at revision {observed.revision}: its chart and values are the CR's, so no new "
        "revision" + _owned(step, executor, observed.revision, deployed)
    )
    return Outcome(step, Result.SUCCEEDED, message=message, revision=observed.revision)


def _renders_as_deployed(step: Step, executor: Executor, rendered: str, deployed: Mapping[str, Any]) -> bool:
    """Same chart, same user-supplied values, same objects, and its hooks ran: an upgrade would make a revision
    that changes nothing. Compared as JSON, so formatting is no difference while ``1`` and ``true`` are, and so
    is a random password the chart generates."""
    desired = step.desired
    assert desired is not None
    chart = (deployed.get("chart") or {}).get("metadata") or {}
    same_chart = (chart.get("name"), chart.get("version")) == (desired.chart.name, desired.chart.version)
    hooks = not executor.options.disable_hooks
    deployed_objects = written_objects(release_manifest(deployed, with_hooks=hooks))
    return (
        same_chart
        and _json(deployed.get("config") or {}) == _json(desired.values)
        and _json(written_objects(rendered)) == _json(deployed_objects)
        and (not hooks or _hooks_ran(deployed))
    )


def _hooks_ran(release: Mapping[str, Any]) -> bool:
    """Whether every hook an upgrade would run ran for the deployed revision. One installed with ``--no-hooks``
    records its hooks but never ran them (no ``last_run``); with hooks on, helmcr upgrades such a release, so its
    upgrade hooks (a migration Job, say) do run, rather than take it over as if they had."""
    upgrade_events = {"pre-upgrade", "post-upgrade"}
    return all(
        ((hook.get("last_run") or {}).get("phase") or "") == "Succeeded"
        for hook in release.get("hooks") or []
        if isinstance(hook, Mapping) and upgrade_events & set(hook.get("events") or [])
    )


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _helm_upgrade(step: Step, executor: Executor, secrets: Sequence[str]) -> Outcome:
    desired = step.desired
    assert desired is not None, "install and upgrade steps always carry the desired state"
    labels = ownership_labels(desired.owner, desired.digest, desired.keep, desired.fleet_digest, step.rollout)
    revision = executor.helm.upgrade(step.key, desired.chart, desired.values, labels, executor.options, secrets)
    verb = "installed" if step.action.ends_in is Action.INSTALL else "upgraded"
    message = f"{verb} release {step.key}: revision {revision}" + _owned(step, executor, revision)
    return Outcome(step, Result.SUCCEEDED, message=message, revision=revision)


def _owned(step: Step, executor: Executor, revision: int, release: Mapping[str, Any] | None = None) -> str:
    """Owner references to the CR on what helm just applied (``release``: its record, when already read); what
    could not get one is told, never fatal (the release is deployed, and the next run uninstalls it after its CR
    is gone either way)."""
    desired = step.desired
    if executor.owners is None or desired is None or not desired.owner.uid:
        return ""
    account = executor.options.service_account
    as_user = f"system:serviceaccount:{step.key.namespace}:{account}" if account else ""
    try:
        release = release if release is not None else read_release(executor.kube, step.key, revision)
        problems = claim(
            executor.kube, executor.owners, desired.owner, executor.owner_api_version, release, as_user, desired.keep
        )
    except KubeError as error:
        problems = [str(error)]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"; not collected with its CR: {problems[0]}{more}" if problems else ""


def _rendered(step: Step, executor: Executor, secrets: Sequence[str]) -> str:
    """What the operation would apply: a server-side dry run of it. helm's dry run does not install a chart's own
    CRDs (``crds/``), so the first install of a chart whose templates use them cannot be dry-run on the server;
    then, and only then, the chart is rendered client-side (without its CRDs, which no value reaches), which is
    all the check needs: kinds, names, namespaces."""
    desired = step.desired
    assert desired is not None
    try:
        return executor.helm.render(step.key, desired.chart, desired.values, executor.options, False, secrets)
    except HelmError as error:
        first_install = step.observed is None or step.action is Action.REINSTALL
        if not (first_install and desired.chart.crd_kinds and CRDS_MISSING in str(error)):
            raise
    return executor.helm.render(step.key, desired.chart, desired.values, executor.options, True, secrets)


def _uninstall(step: Step, executor: Executor, secrets: Sequence[str]) -> Outcome:
    executor.helm.uninstall(step.key, executor.options, secrets)
    return Outcome(step, Result.SUCCEEDED, message=f"uninstalled release {step.key}")


def _unlock(step: Step, executor: Executor) -> None:
    """Helm refuses to touch a pending release, and the process that would have finished it is gone: its record is
    marked failed, as helm itself would have done had it survived."""
    observed = step.observed
    assert observed is not None, "an unlocking step always carries the stuck release"
    why = f"helmcr: {observed.status} since {observed.modified_at:.0f} (epoch s), its operation died; marked failed"
    mark_failed(executor.kube, step.key, observed.revision, why)


def _unlock_and_upgrade(step: Step, executor: Executor, secrets: Sequence[str]) -> Outcome:
    _unlock(step, executor)
    return _upgrade(step, executor, secrets)


def _reinstall(step: Step, executor: Executor, secrets: Sequence[str]) -> Outcome:
    """A release that never got past pending-install is uninstalled once unlocked, so the install starts clean."""
    _unlock(step, executor)
    executor.helm.uninstall(step.key, executor.options, secrets)
    return _upgrade(step, executor, secrets)


def _unlock_and_uninstall(step: Step, executor: Executor, secrets: Sequence[str]) -> Outcome:
    _unlock(step, executor)
    return _uninstall(step, executor, secrets)


ACTIONS: dict[Action, Callable[[Step, Executor, Sequence[str]], Outcome]] = {
    Action.INSTALL: _upgrade,
    Action.UPGRADE: _upgrade,
    Action.UNINSTALL: _uninstall,
    Action.UNLOCK_AND_UPGRADE: _unlock_and_upgrade,
    Action.REINSTALL: _reinstall,
    Action.UNLOCK_AND_UNINSTALL: _unlock_and_uninstall,
    Action.ADOPT: _adopt,
}
