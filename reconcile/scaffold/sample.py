"""A sample custom resource (the chart's defaults as its spec) and the helmcr config entry for the kind."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconcile.scaffold.kinds import CustomKind


@dataclass(frozen=True)
class Watch:
    """What the config entry says beyond the kind: where the chart is when helmcr runs, and where it looks."""

    chart: str
    namespaces: tuple[str, ...] | None  # None: every namespace
    target_namespace: str = ""  # a cluster-scoped kind's releases go here
    chart_version: str = ""  # pins a chart from a registry
    disable_hooks: bool = False
    service_account: str = ""  # helm acts as it in each release's namespace
    allowed_kinds: tuple[str, ...] = ()  # what the chart renders: all a release may hold
    allow_cluster_scoped: bool = False


def sample_resource(kind: CustomKind, namespace: str | None, values: Mapping[str, Any]) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": f"{kind.singular}-sample"}
    if namespace and kind.namespaced:
        metadata["namespace"] = namespace
    return {"apiVersion": kind.api_version, "kind": kind.kind, "metadata": metadata, "spec": dict(values)}


def config(kind: CustomKind, watch: Watch, lease_namespace: str) -> dict[str, Any]:
    """A whole helmcr config with one entry; for several kinds in one run, merge the entries under one ``watches``.

    The lease goes where helmcr runs (its RBAC allows Leases there), for every run of this config, in a pod or not."""
    entry: dict[str, Any] = {
        "group": kind.group,
        "version": kind.version,
        "kind": kind.kind,
        "plural": kind.plural,
        "chart": watch.chart,
    }
    if watch.chart_version:
        entry["chartVersion"] = watch.chart_version
    if watch.namespaces is not None:
        entry["namespaces"] = list(watch.namespaces)
    if watch.target_namespace:
        entry["targetNamespace"] = watch.target_namespace
    if watch.disable_hooks:
        entry["disableHooks"] = True
    if watch.service_account:
        entry["serviceAccountName"] = watch.service_account
    if watch.allowed_kinds:
        entry["allowedKinds"] = list(watch.allowed_kinds)
    if watch.allow_cluster_scoped:
        entry["allowClusterScoped"] = True
    entry["drift"] = {"mode": "correct"}  # docs/drift.md: what a manual change or a deleted object gets
    entry["health"] = True
    entry["ownerReferences"] = True  # what helm applied goes with its CR, even if no run follows the deletion
    return {"watches": [entry], "lease": {"namespace": lease_namespace}}
