"""One pass over every configured kind: observe → plan → (lease → observe → plan) → apply → status.

Each kind is independent: a kind whose chart is missing or whose CRs cannot be listed is reported and skipped, and
the others still converge. The run lease is taken only when some release must change, so a run where nothing
changed makes no write; once it is held, everything is observed again, because another run may have acted since.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from reconcile.adapters.helm import Helm
from reconcile.adapters.kube import Kube
from reconcile.apply import Executor, Gate, apply_plan
from reconcile.assess import Inventory
from reconcile.charts import resolve_chart
from reconcile.compat import annotation_warnings
from reconcile.desired import desired_maker, keyed
from reconcile.errors import ChartError, DigestKeyMissing, KubeError
from reconcile.lease import DEFAULT_NAMESPACE, LeaseSettings, RunLease, lease_name
from reconcile.model import KindError, Outcome, RunSummary, Step, unchanged_outcome
from reconcile.observe import ClusterSource, Source, resource_type
from reconcile.plan import KindPlan, plan_kind, with_policies
from reconcile.policies import policies
from reconcile.preview import Preview, PreviewSettings, preview
from reconcile.pulls import remote_charts
from reconcile.settings import Config, RunOptions, Watch
from reconcile.status import StatusWriter


@dataclass
class RunControl:
    """Why new helm operations may no longer start: a signal, the time budget, a lost lease."""

    time_budget_seconds: float = 0.0
    started: float = field(default_factory=time.monotonic)
    stop: threading.Event = field(default_factory=threading.Event)

    def gate(self, lease: RunLease | None) -> Gate:
        def refusal(step: Step, timeout_seconds: float) -> str:
            if self.stop.is_set():
                return "helmcr was asked to stop"
            if lease is not None and not lease.confirm():
                return "the run lease was lost to another run"
            if self.time_budget_seconds:
                left = self.time_budget_seconds - (time.monotonic() - self.started)
                if left < timeout_seconds:
                    return (
                        f"the time budget leaves {max(left, 0):.0f}s, less than helm's timeout ({timeout_seconds:.0f}s)"
                    )
            return ""

        return refusal


def sync_once(
    config: Config,
    kube: Kube,
    helm: Helm,
    options: RunOptions,
    control: RunControl,
    clock: Callable[[], float] = time.time,
) -> RunSummary:
    source = ClusterSource(kube, options.scope, config.page_size)
    plans, errors = plan_all(config, source, options, clock())
    if not any(kind.plan.changes for kind in plans):
        return _apply_all(plans, errors, config, source, helm, options, control.gate(None))
    with _lease(config, kube, options).held() as lease:
        plans, errors = plan_all(config, source, options, clock())
        return _apply_all(plans, errors, config, source, helm, options, control.gate(lease))


def preview_run(
    config: Config,
    source: Source,
    helm: Helm,
    options: RunOptions,
    settings: PreviewSettings,
    clock: Callable[[], float] = time.time,
) -> tuple[RunSummary, Preview, list[KindPlan]]:
    """Everything a real run would decide, and what it would change, with nothing changed: no helm mutation, no
    status, no event, no lease."""
    plans, errors = plan_all(config, source, options, clock())
    outcomes = [unchanged_outcome(step) for kind in plans for step in kind.plan.steps]
    warnings = (*run_warnings(config, options), *annotation_warnings(plans))
    summary = RunSummary(outcomes=tuple(outcomes), kind_errors=tuple(errors), warnings=warnings)
    with remote_charts(helm) as charts:
        readers = [(kind.watch, kind.plan, source.deployed(kind.watch, charts)) for kind in plans]
        return summary, preview(readers, charts, settings, source.namespaced), plans


def plan_all(config: Config, source: Source, options: RunOptions, now: float) -> tuple[list[KindPlan], list[KindError]]:
    """Every kind observed and decided, then the run's policies over all of them (the uninstall budget counts
    across kinds)."""
    plans: list[KindPlan] = []
    errors: list[KindError] = []
    for watch in config.watches:
        try:
            plans.append(plan_kind(watch, _observe(config, watch, source)))
        except (ChartError, KubeError, DigestKeyMissing) as error:
            errors.append(KindError(str(watch), str(error), cluster=isinstance(error, KubeError)))
    return with_policies(plans, policies(options, now)), errors


def _observe(config: Config, watch: Watch, source: Source) -> Inventory:
    chart = resolve_chart(watch, config.path.parent)
    inventory = source.observe(watch, desired_maker(watch, chart, config.digest_key))
    if not config.digest_key and (found := next((o for o in inventory.owned if keyed(o.digest)), None)):
        raise DigestKeyMissing(
            f"release {found.key} was deployed with digest key {found.digest.partition('.')[0]} and this run has "
            "none, so it cannot tell what changed: set HELMCR_DIGEST_KEY or digestKeyFile to the CronJob's key"
        )
    return inventory


def _apply_all(
    plans: list[KindPlan],
    errors: list[KindError],
    config: Config,
    source: ClusterSource,
    helm: Helm,
    options: RunOptions,
    gate: Gate,
) -> RunSummary:
    outcomes: list[Outcome] = []
    status_errors: list[str] = []
    kube = source.kube
    with remote_charts(helm) as charts:
        for kind in plans:
            writer = StatusWriter(kube, resource_type(kind.watch), kind.watch.policy, kind.watch.operator_sdk)
            watch = kind.watch
            owners = source.served if watch.owner_references else None
            executor = Executor(
                helm,
                kube,
                watch.helm,
                gate,
                watch.objects,
                source.namespaced,
                charts,
                owners,
                f"{watch.group}/{watch.version}",
            )
            outcomes += apply_plan(kind.plan, executor, options.concurrency, on_outcome=writer)
            status_errors += writer.problems
    return RunSummary(
        outcomes=tuple(outcomes),
        kind_errors=tuple(errors),
        status_errors=tuple(status_errors),
        warnings=(*run_warnings(config, options), *annotation_warnings(plans)),
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
    name = config.lease.name or lease_name([f"{w.kind}.{w.group}" for w in config.watches])
    shard = options.scope.shard
    settings = LeaseSettings(
        # each shard its own: n pods of one Indexed Job run at once, on disjoint CRs
        name=f"{name}-shard-{shard.index}-of-{shard.count}" if shard.split else name,
        namespace=config.lease.namespace or DEFAULT_NAMESPACE,
        duration_seconds=config.lease.duration_seconds,
        wait_seconds=options.lease_wait_seconds,
    )
    return RunLease(kube, settings)
