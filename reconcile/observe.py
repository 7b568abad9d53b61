"""Observe one kind: its CRs and the releases helmcr owns for it, as the planner's single input (an Inventory).

Costs one LIST of the CRs and one metadata-only LIST of release records per namespace scope; only when some CR
has no release yet, one more LIST checks that no one else's release holds its name. A LIST that fails raises, so
a partial view is never planned on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from reconcile.adapters.kube import SECRETS, Kube, ResourceType
from reconcile.config import Selector, Watch
from reconcile.errors import KubeNotFound
from reconcile.labels import named_selector, owned_selector, ownership_labels
from reconcile.model import Desired, Observed, ReleaseKey, ReleaseStatus
from reconcile.observed import observed_releases
from reconcile.plan import Inventory

NAMES_PER_QUERY = 100


@dataclass(frozen=True)
class Scope:
    """What this invocation narrows, on top of the config file."""

    namespaces: tuple[str, ...] = ()
    selector: Selector = field(default_factory=Selector)


def resource_type(watch: Watch) -> ResourceType:
    return ResourceType(watch.group, watch.version, watch.resource_plural)


def observe(
    watch: Watch,
    kube: Kube,
    scope: Scope,
    page_size: int,
    to_desired: Callable[[dict[str, Any]], Desired],
    files: list[dict[str, Any]] | None = None,
) -> Inventory:
    """``files``: CRs read from files replace the cluster's as the desired state (a pull-request preview); the
    cluster's CRs then only lend them their identity, and a cluster CR missing from the files counts as deleted."""
    cluster = _list_resources(watch, kube, scope, page_size)
    resources = cluster if files is None else _with_cluster_identity(files, cluster)
    selected = [r for r in resources if _selected(r, watch.selector, scope.selector)]
    desired = [to_desired(r) for r in selected]
    cr_scopes = _scopes(watch, scope)
    release_scopes = [watch.target_namespace] if watch.target_namespace else cr_scopes
    owned: list[Observed] = []
    for namespace in release_scopes:
        records = kube.list(SECRETS, namespace, page_size, owned_selector(watch.group, watch.kind), metadata_only=True)
        owned += observed_releases(records)
    owned_keys = {o.key for o in owned}
    unmatched = [d for d in desired if not d.invalid and d.key not in owned_keys]
    return Inventory(
        desired=tuple(desired),
        owned=tuple(o for o in owned if _owner_in_scope(o, cr_scopes)),
        others=tuple(_others(kube, unmatched, page_size)),
        present_uids=frozenset(uid for r in resources if (uid := str((r.get("metadata") or {}).get("uid") or ""))),
        complete=True,
        adopt=watch.adopt,
        now=time.time(),
        policy=watch.policy,
    )


def observe_offline(
    watch: Watch,
    scope: Scope,
    base: list[dict[str, Any]],
    files: list[dict[str, Any]],
    to_desired: Callable[[dict[str, Any]], Desired],
) -> tuple[Inventory, dict[ReleaseKey, Desired]]:
    """No cluster at all: the base CR files (say, the target branch's) stand for what is deployed."""
    before = [to_desired(r) for r in base if _selected(r, watch.selector, scope.selector)]
    deployed = {d.key: d for d in before if not d.invalid}
    owned = tuple(
        Observed(
            key,
            1,
            ReleaseStatus.DEPLOYED,
            {"owner": "helm", "name": key.name, **ownership_labels(d.owner, d.digest, d.keep)},
        )
        for key, d in sorted(deployed.items())
    )
    desired = tuple(to_desired(r) for r in files if _selected(r, watch.selector, scope.selector))
    inventory = Inventory(desired=desired, owned=owned, adopt=watch.adopt, now=time.time(), policy=watch.policy)
    return inventory, deployed


def _with_cluster_identity(files: list[dict[str, Any]], cluster: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A CR from a file that also exists in the cluster is that CR: same uid, generation and status."""
    live = {_identity(resource): resource for resource in cluster}
    merged = []
    for resource in files:
        twin = live.get(_identity(resource), {})
        twin_metadata = twin.get("metadata") or {}
        identity = {name: twin_metadata[name] for name in ("uid", "generation") if name in twin_metadata}
        status = {"status": twin["status"]} if twin.get("status") else {}
        merged.append({**resource, "metadata": {**(resource.get("metadata") or {}), **identity}, **status})
    return merged


def _identity(resource: dict[str, Any]) -> tuple[str, str]:
    metadata = resource.get("metadata") or {}
    return str(metadata.get("namespace") or ""), str(metadata.get("name") or "")


def _list_resources(watch: Watch, kube: Kube, scope: Scope, page_size: int) -> list[dict[str, Any]]:
    resource = resource_type(watch)
    items: list[dict[str, Any]] = []
    for namespace in _scopes(watch, scope):
        try:
            items += kube.list(resource, namespace, page_size)
        except KubeNotFound:
            raise KubeNotFound(
                f"the API server does not serve {watch.resource_plural}.{watch.group}/{watch.version}: is the "
                f"CRD installed, and are group, version and kind (or plural) right in the config?"
            ) from None
    return items


def _scopes(watch: Watch, scope: Scope) -> list[str | None]:
    """Namespaces to list in: the config's and the command line's, intersected; None means cluster-wide."""
    if watch.namespaces and scope.namespaces:
        return [n for n in watch.namespaces if n in scope.namespaces]
    chosen = watch.namespaces or scope.namespaces
    return list(chosen) if chosen else [None]


def _owner_in_scope(observed: Observed, scopes: list[str | None]) -> bool:
    """By the owning CR's namespace, not the release's: with a targetNamespace, a run over one (or a mistyped)
    namespace must not take the releases of every other namespace's CRs for orphans."""
    return any(scope is None or scope == observed.owner.namespace for scope in scopes)


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
