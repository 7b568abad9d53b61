"""One pass over every configured kind: observe → plan → apply → write status.

Each kind is independent: a kind whose chart is missing or whose CRs cannot be listed is reported and skipped, and
the others still converge. Observing a kind costs one LIST of its CRs and one metadata-only LIST of its release
records per namespace scope, plus, only when some CR has no release yet, one LIST to check its name is free.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from reconcile.adapters.helm import Helm
from reconcile.adapters.kube import SECRETS, Kube, ResourceType
from reconcile.apply import apply_plan
from reconcile.charts import resolve_chart
from reconcile.config import Config, Selector, Watch
from reconcile.desired import desired_from_resource
from reconcile.errors import ChartError, KubeError
from reconcile.labels import named_selector, owned_selector
from reconcile.model import Action, Desired, KindError, Observed, Outcome, Plan, Result, RunSummary, Step
from reconcile.observed import observed_releases
from reconcile.plan import Inventory, plan
from reconcile.status import StatusWriter

log = logging.getLogger(__name__)
NAMES_PER_QUERY = 100


@dataclass(frozen=True)
class RunOptions:
    """What this invocation narrows or changes, on top of the config file."""

    namespaces: tuple[str, ...] = ()
    selector: Selector = field(default_factory=Selector)
    dry_run: bool = False
    concurrency: int = 4


@dataclass(frozen=True)
class KindPlan:
    watch: Watch
    plan: Plan


def sync_once(config: Config, kube: Kube, helm: Helm, options: RunOptions) -> RunSummary:
    outcomes: list[Outcome] = []
    errors: list[KindError] = []
    status_errors: list[str] = []
    for watch in config.watches:
        try:
            kind_plan = plan_kind(config, watch, kube, options)
        except (ChartError, KubeError) as error:
            errors.append(KindError(str(watch), str(error), cluster=isinstance(error, KubeError)))
            continue
        if options.dry_run:
            outcomes += [_previewed(step) for step in kind_plan.plan.steps]
            continue
        writer = StatusWriter(kube, resource_type(watch))
        outcomes += apply_plan(kind_plan.plan, helm, watch.helm, options.concurrency, on_outcome=writer)
        status_errors += writer.problems
    return RunSummary(
        outcomes=tuple(outcomes),
        kind_errors=tuple(errors),
        status_errors=tuple(status_errors),
        warnings=config.warnings,
    )


def plan_kind(config: Config, watch: Watch, kube: Kube, options: RunOptions) -> KindPlan:
    chart = resolve_chart(watch, config.path.parent)
    inventory = observe(watch, kube, options, config.page_size, lambda raw: desired_from_resource(raw, watch, chart))
    return KindPlan(watch, plan(inventory))


def resource_type(watch: Watch) -> ResourceType:
    return ResourceType(watch.group, watch.version, watch.resource_plural)


def observe(
    watch: Watch, kube: Kube, options: RunOptions, page_size: int, to_desired: Callable[[dict[str, Any]], Desired]
) -> Inventory:
    resources = _list_resources(watch, kube, options, page_size)
    selected = [r for r in resources if _selected(r, watch.selector, options.selector)]
    desired = [to_desired(r) for r in selected]
    release_scopes = [watch.target_namespace] if watch.target_namespace else _scopes(watch, options)
    owned: list[Observed] = []
    for scope in release_scopes:
        records = kube.list(SECRETS, scope, page_size, owned_selector(watch.group, watch.kind), metadata_only=True)
        owned += observed_releases(records)
    owned_keys = {o.key for o in owned}
    unmatched = [d for d in desired if not d.invalid and d.key not in owned_keys]
    return Inventory(
        desired=tuple(desired),
        owned=tuple(o for o in owned if _in_scope(o, release_scopes)),
        others=tuple(_others(kube, unmatched, page_size)),
        present_uids=frozenset(str((r.get("metadata") or {}).get("uid", "")) for r in resources),
        complete=True,
        adopt=watch.adopt,
    )


def _list_resources(watch: Watch, kube: Kube, options: RunOptions, page_size: int) -> list[dict[str, Any]]:
    resource = resource_type(watch)
    items: list[dict[str, Any]] = []
    for scope in _scopes(watch, options):
        try:
            items += kube.list(resource, scope, page_size)
        except KubeError as error:
            if error.status == 404:
                raise KubeError(
                    f"the API server does not serve {watch.resource_plural}.{watch.group}/{watch.version}: is the "
                    f"CRD installed, and are group, version and kind (or plural) right in the config?",
                    404,
                ) from None
            raise
    return items


def _scopes(watch: Watch, options: RunOptions) -> list[str | None]:
    """Namespaces to list in: the config's and the command line's, intersected; None means cluster-wide."""
    if watch.namespaces and options.namespaces:
        return [n for n in watch.namespaces if n in options.namespaces]
    chosen = watch.namespaces or options.namespaces
    return list(chosen) if chosen else [None]


def _in_scope(observed: Observed, scopes: Iterable[str | None]) -> bool:
    return any(scope is None or scope == observed.key.namespace for scope in scopes)


def _selected(resource: dict[str, Any], *selectors: Selector) -> bool:
    metadata = resource.get("metadata")
    labels = (metadata.get("labels") if isinstance(metadata, dict) else None) or {}
    return all(selector.matches(labels) for selector in selectors)


def _others(kube: Kube, unmatched: list[Desired], page_size: int) -> list[Observed]:
    """Releases already holding a name some new CR wants: the only reason a no-op run never asks this."""
    by_namespace: dict[str, list[str]] = {}
    for desired in unmatched:
        by_namespace.setdefault(desired.key.namespace, []).append(desired.key.name)
    found: list[Observed] = []
    for namespace, names in sorted(by_namespace.items()):
        for start in range(0, len(names), NAMES_PER_QUERY):
            chunk = names[start : start + NAMES_PER_QUERY]
            records = kube.list(SECRETS, namespace, page_size, named_selector(chunk), metadata_only=True)
            found += observed_releases(records)
    return found


def _previewed(step: Step) -> Outcome:
    """A dry run reports each step as it would start; nothing is carried out."""
    result = {Action.SKIP: Result.SKIPPED, Action.BLOCKED: Result.BLOCKED}.get(step.action, Result.NOT_STARTED)
    return Outcome(step, result, message=step.reason)
