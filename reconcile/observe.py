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
from reconcile.errors import KubeError
from reconcile.labels import named_selector, owned_selector
from reconcile.model import Desired, Observed
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
    watch: Watch, kube: Kube, scope: Scope, page_size: int, to_desired: Callable[[dict[str, Any]], Desired]
) -> Inventory:
    resources = _list_resources(watch, kube, scope, page_size)
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
        present_uids=frozenset(str((r.get("metadata") or {}).get("uid", "")) for r in resources),
        complete=True,
        adopt=watch.adopt,
        now=time.time(),
        policy=watch.policy,
    )


def _list_resources(watch: Watch, kube: Kube, scope: Scope, page_size: int) -> list[dict[str, Any]]:
    resource = resource_type(watch)
    items: list[dict[str, Any]] = []
    for namespace in _scopes(watch, scope):
        try:
            items += kube.list(resource, namespace, page_size)
        except KubeError as error:
            if error.status == 404:
                raise KubeError(
                    f"the API server does not serve {watch.resource_plural}.{watch.group}/{watch.version}: is the "
                    f"CRD installed, and are group, version and kind (or plural) right in the config?",
                    404,
                ) from None
            raise
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
