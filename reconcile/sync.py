"""One pass over every configured kind: observe → plan → (lease → observe → plan) → apply → status.

Each kind is independent: a kind whose chart is missing or whose CRs cannot be listed is reported and skipped, and
the others still converge. The run lease is taken only when some release must change, so a run where nothing
changed makes no write; once it is held, everything is observed again, because another run may have acted since.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from reconcile.adapters.helm import Helm
from reconcile.adapters.kube import Kube
from reconcile.apply import Executor, Gate, apply_plan
from reconcile.charts import resolve_chart
from reconcile.config import Config, UninstallBudget, Watch
from reconcile.crfiles import load_resources
from reconcile.desired import desired_from_resource
from reconcile.errors import ChartError, KubeError
from reconcile.lease import LeaseSettings, RunLease, default_namespace, lease_name
from reconcile.model import Action, Desired, KindError, Outcome, Plan, ReleaseKey, Result, RunSummary, Step
from reconcile.observe import Scope, observe, observe_offline, resource_type
from reconcile.plan import enforce_uninstall_budget, plan
from reconcile.preview import Preview, PreviewSettings, from_base_files, from_release_records, preview
from reconcile.status import StatusWriter


@dataclass(frozen=True)
class RunOptions:
    """What this invocation asks for, on top of the config file."""

    scope: Scope = field(default_factory=Scope)
    concurrency: int = 4
    max_uninstalls: UninstallBudget | None = None  # None: the config's
    force_uninstalls: bool = False
    lease_wait_seconds: float = 0.0
    files: tuple[Path, ...] = ()  # CR files that replace the cluster's CRs as the desired state
    base_files: tuple[Path, ...] = ()  # offline: CR files standing for what is deployed (no cluster at all)
    offline: bool = False
    approve: Callable[[Step], str] | None = None  # a saved plan's check: "" lets a changing step go ahead

    def default_namespace(self) -> str:
        return self.scope.namespaces[0] if len(self.scope.namespaces) == 1 else "default"


@dataclass
class RunControl:
    """Why new helm operations may no longer start: a signal, the time budget, a lost lease."""

    time_budget_seconds: float = 0.0
    started: float = field(default_factory=time.monotonic)
    stop: threading.Event = field(default_factory=threading.Event)

    def gate(self, lease: RunLease | None, approve: Callable[[Step], str] | None = None) -> Gate:
        def refusal(step: Step, timeout_seconds: float) -> str:
            if approve is not None and (objection := approve(step)):
                return objection
            if self.stop.is_set():
                return "helmcr was asked to stop"
            if lease is not None and lease.lost.is_set():
                return "the run lease was lost to another run"
            if self.time_budget_seconds:
                left = self.time_budget_seconds - (time.monotonic() - self.started)
                if left < timeout_seconds:
                    return (
                        f"the time budget leaves {max(left, 0):.0f}s, less than helm's timeout ({timeout_seconds:.0f}s)"
                    )
            return ""

        return refusal


@dataclass(frozen=True)
class KindPlan:
    watch: Watch
    plan: Plan
    owned: int
    base: Mapping[ReleaseKey, Desired] = field(default_factory=dict)  # offline: what the base files deploy


def sync_once(config: Config, kube: Kube, helm: Helm, options: RunOptions, control: RunControl) -> RunSummary:
    plans, errors = plan_all(config, kube, options)
    if not any(kind.plan.changes for kind in plans):
        return _apply_all(plans, errors, config, kube, helm, options, control.gate(None, options.approve))
    with _lease(config, kube, options).held() as lease:
        plans, errors = plan_all(config, kube, options)
        return _apply_all(plans, errors, config, kube, helm, options, control.gate(lease, options.approve))


def preview_run(
    config: Config, kube: Kube | None, helm: Helm, options: RunOptions, settings: PreviewSettings
) -> tuple[RunSummary, Preview, list[KindPlan]]:
    """Everything a real run would decide, and what it would change, with nothing changed: no helm mutation, no
    status, no event, no lease."""
    plans, errors = plan_all(config, kube, options)
    outcomes = [_previewed(step) for kind in plans for step in kind.plan.steps]
    readers = [
        (kind.watch, kind.plan, from_base_files(kind.base, helm) if kube is None else from_release_records(kube))
        for kind in plans
    ]
    summary = RunSummary(outcomes=tuple(outcomes), kind_errors=tuple(errors), warnings=run_warnings(config, options))
    return summary, preview(readers, helm, settings), plans


def plan_all(config: Config, kube: Kube | None, options: RunOptions) -> tuple[list[KindPlan], list[KindError]]:
    plans: list[KindPlan] = []
    errors: list[KindError] = []
    for watch in config.watches:
        try:
            plans.append(plan_kind(config, watch, kube, options))
        except (ChartError, KubeError) as error:
            errors.append(KindError(str(watch), str(error), cluster=isinstance(error, KubeError)))
    budget = options.max_uninstalls or config.max_uninstalls
    owned = sum(kind.owned for kind in plans)
    limited = enforce_uninstall_budget([kind.plan for kind in plans], budget, owned, options.force_uninstalls)
    return [replace(kind, plan=new) for kind, new in zip(plans, limited, strict=True)], errors


def plan_kind(config: Config, watch: Watch, kube: Kube | None, options: RunOptions) -> KindPlan:
    chart = resolve_chart(watch, config.path.parent)

    def to_desired(raw: dict[str, Any]) -> Desired:
        return desired_from_resource(raw, watch, chart)

    namespace = options.default_namespace()
    files = load_resources(options.files, watch, namespace) if options.files or options.offline else None
    if kube is None:
        base = load_resources(options.base_files, watch, namespace)
        inventory, deployed = observe_offline(watch, options.scope, base, files or [], to_desired)
        return KindPlan(watch, plan(inventory), len(inventory.owned), deployed)
    inventory = observe(watch, kube, options.scope, config.page_size, to_desired, files)
    return KindPlan(watch, plan(inventory), len(inventory.owned))


def _apply_all(
    plans: list[KindPlan],
    errors: list[KindError],
    config: Config,
    kube: Kube,
    helm: Helm,
    options: RunOptions,
    gate: Gate,
) -> RunSummary:
    outcomes: list[Outcome] = []
    status_errors: list[str] = []
    for kind in plans:
        writer = StatusWriter(kube, resource_type(kind.watch), kind.watch.policy)
        executor = Executor(helm, kube, kind.watch.helm, gate)
        outcomes += apply_plan(kind.plan, executor, options.concurrency, on_outcome=writer)
        status_errors += writer.problems
    return RunSummary(
        outcomes=tuple(outcomes),
        kind_errors=tuple(errors),
        status_errors=tuple(status_errors),
        warnings=run_warnings(config, options),
    )


def run_warnings(config: Config, options: RunOptions) -> tuple[str, ...]:
    """The config's own, plus a --namespace that a kind's configured namespaces leave out (it syncs nothing)."""
    wanted = set(options.scope.namespaces)
    outside = [
        f"{watch}: --namespace {', '.join(sorted(wanted))} is outside its namespaces ({', '.join(watch.namespaces)}); "
        "nothing of this kind is synced"
        for watch in config.watches
        if wanted and watch.namespaces and not wanted & set(watch.namespaces)
    ]
    return (*config.warnings, *outside)


def _lease(config: Config, kube: Kube, options: RunOptions) -> RunLease:
    settings = LeaseSettings(
        name=config.lease.name or lease_name([f"{w.kind}.{w.group}" for w in config.watches]),
        namespace=config.lease.namespace or default_namespace(kube.context_namespace),
        duration_seconds=config.lease.duration_seconds,
        wait_seconds=options.lease_wait_seconds,
    )
    return RunLease(kube, settings)


def _previewed(step: Step) -> Outcome:
    """A dry run reports each step as it would start; nothing is carried out."""
    result = {Action.SKIP: Result.SKIPPED, Action.BLOCKED: Result.BLOCKED}.get(step.action, Result.NOT_STARTED)
    return Outcome(step, result, message=step.reason)
