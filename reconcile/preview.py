"""The preview of a plan: for every release a step would change, what it would change, values and objects.

Only the releases that will change are rendered (one helm process each: a server-side dry run, or ``helm
template`` offline); the deployed side is read from the release record (online) or rendered from the base CR files
(offline). The diffs themselves, and all redaction, come from :mod:`reconcile.diff`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconcile.asfound import as_found
from reconcile.desired import secrets_of
from reconcile.diff import ReleaseDiff, release_diff
from reconcile.errors import HelmcrError, ObjectsRefused
from reconcile.model import Action, ChartRef, Plan, Step
from reconcile.objectcheck import Namespaced, refusal_message, refusals
from reconcile.observe import DeployedReader
from reconcile.pulls import RemoteCharts
from reconcile.redact import redact
from reconcile.settings import Watch


@dataclass(frozen=True)
class PreviewSettings:
    context: int = 3
    show_secrets: bool = False
    client_side: bool = False  # render with helm template: no lookup, no credentials (offline, and PR files)


@dataclass(frozen=True)
class Preview:
    diffs: tuple[ReleaseDiff, ...]
    problems: tuple[str, ...]  # releases whose desired state could not be rendered: the real run would fail too


def preview(
    plans: Sequence[tuple[Watch, Plan, DeployedReader]],
    charts: RemoteCharts,
    settings: PreviewSettings,
    namespaced: Namespaced,
) -> Preview:
    """``namespaced`` answers the object check, which a preview runs on what it renders as the real run would;
    ``charts`` renders, each remote chart pulled once for the whole preview."""
    diffs: list[ReleaseDiff] = []
    problems: list[str] = []
    for watch, plan, deployed in plans:
        used = {step.desired.chart for step in plan.changes if step.desired and step.action is not Action.UNINSTALL}
        secret_paths = frozenset().union(*(_secret_paths(chart, charts) for chart in used))
        for step in plan.changes:
            diff, problem = _diff(step, watch, charts, deployed, settings, secret_paths, namespaced)
            diffs.append(diff)
            if problem:
                problems.append(problem)
    return Preview(tuple(diffs), tuple(problems))


def _secret_paths(chart: ChartRef, charts: RemoteCharts) -> frozenset[str]:
    """What the chart's schema marks secret; a remote chart's schema is known once pulled (a failed pull masks
    nothing more, and the diff of each of its releases reports it)."""
    try:
        return charts.local(chart).secret_paths
    except HelmcrError:
        return chart.secret_paths


def _drift_notes(step: Step) -> list[str]:
    """Every field the live objects changed from what the release applied, which the upgrade puts back: the
    release's own diff is empty for a drift correction (the same chart and values)."""
    if step.live is None or not step.live.drift:
        return []
    secrets = secrets_of(step.desired) if step.desired else []
    listed = [f"live drift, restored by this upgrade: {redact(d.describe(), secrets)}" for d in step.live.drift]
    return [*listed, "the objects' diff is from the live objects (the fields the release owns) to the rendered ones"]


def _diff(
    step: Step,
    watch: Watch,
    charts: RemoteCharts,
    deployed: DeployedReader,
    settings: PreviewSettings,
    secret_paths: frozenset[str],
    namespaced: Namespaced,
) -> tuple[ReleaseDiff, str]:
    notes = _drift_notes(step)
    problem = ""
    desired = step.desired if step.action is not Action.UNINSTALL else None
    desired_manifest = ""
    if desired is not None:
        try:
            desired_manifest = charts.render(
                step.key, desired.chart, desired.values, watch.helm, settings.client_side, secrets_of(desired)
            )
            refused = (
                []
                if watch.objects.unbounded
                else refusals(
                    desired_manifest,
                    step.key.namespace,
                    watch.objects,
                    namespaced,
                    watch.helm.service_account,
                    desired.chart.crd_kinds,
                )
            )
            if refused:
                problem = f"{step.owner or step.key}: {redact(refusal_message(refused), secrets_of(desired))}"
                notes.append(problem)
        except ObjectsRefused as error:  # a kind discovery cannot place
            problem = f"{step.owner or step.key}: {redact(str(error), secrets_of(desired))}"
            notes.append(problem)
        except HelmcrError as error:
            problem = f"{step.owner or step.key}: the desired state does not render: {error}"
            notes.append(problem)
    deployed_values: Mapping[str, Any] | None = None
    deployed_manifest = ""
    if step.observed is not None and step.action is not Action.INSTALL:
        try:
            deployed_values, deployed_manifest = deployed(step)
        except HelmcrError as error:
            notes.append(f"the deployed release could not be read: {error}")
        if step.live is not None and step.live.drift:
            deployed_manifest = as_found(deployed_manifest, step.key.namespace, step.live.drift)
    diff = release_diff(
        step.key,
        step.action,
        deployed_values=deployed_values,
        desired_values=desired.values if desired else None,
        deployed_manifest=deployed_manifest,
        desired_manifest=desired_manifest,
        sensitive_paths=secret_paths,
        context=settings.context,
        show_secrets=settings.show_secrets,
        notes=notes,
    )
    return diff, problem
