"""The rendered objects of a release, checked against its kind's :class:`ObjectRules` before helm applies any.

helm applies whatever a chart renders, with helm's credentials. A chart that takes ``metadata.namespace`` (or a
kind, or a cluster-scoped object) from values hands that choice to whoever writes the CR: a tenant could place a
ConfigMap in another tenant's namespace, or a ClusterRoleBinding in the cluster. Impersonation
(``serviceAccountName``) is the hard bound, enforced by the API server; this check is the one that holds without
it, and it names the object and the rule instead of a 403 halfway through an install.

The check reads the manifest of a server-side dry run of the very operation (hooks included, which a helm 3
post-renderer would never see), so what is checked is what helm would apply, unless the chart's own templates
branch on a ``lookup`` whose answer changes in between.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol

from reconcile.apikinds import BUILT_IN, split_api_version
from reconcile.errors import KubeError, ObjectsRefused
from reconcile.manifests import documents
from reconcile.settings import ObjectRules

SHOWN_REFUSALS = 3

Namespaced = Callable[[str, str], bool]
"""(apiVersion, kind) → whether objects of the kind live in a namespace."""


class Discovery(Protocol):
    def request(self, method: str, path: str) -> dict[str, Any]: ...


def refusals(manifest: str, namespace: str, rules: ObjectRules, namespaced: Namespaced) -> list[str]:
    """Every object the rules do not allow, each as "<Kind> <name>: <why>"; none for an allowed manifest."""
    found = []
    for obj in _objects(manifest):
        api_version, kind = str(obj.get("apiVersion") or ""), str(obj.get("kind") or "")
        metadata = _mapping(obj.get("metadata"))
        name = f"{kind} {metadata.get('name') or '(unnamed)'}"
        group, _ = split_api_version(api_version)
        if not rules.allows_kind(group, kind):
            found.append(f"{name}: kind {kind}{'.' + group if group else ''} is not in the kind's allowedKinds")
        elif not namespaced(api_version, kind):
            if not rules.cluster_scoped:
                found.append(f"{name}: cluster-scoped objects are not allowed (allowClusterScoped)")
        elif (where := str(metadata.get("namespace") or namespace)) != namespace and not rules.other_namespaces:
            found.append(f"{name}: namespace {where!r} is not the release's ({namespace!r}; allowOtherNamespaces)")
    return found


def refusal_message(problems: list[str]) -> str:
    more = len(problems) - SHOWN_REFUSALS
    shown = "; ".join(problems[:SHOWN_REFUSALS]) + (f"; and {more} more" if more > 0 else "")
    return f"refused before helm applied anything: {shown}"


def check(manifest: str, namespace: str, rules: ObjectRules, namespaced: Namespaced) -> None:
    problems = refusals(manifest, namespace, rules, namespaced)
    if problems:
        raise ObjectsRefused(refusal_message(problems))


def namespaced_offline(api_version: str, kind: str) -> bool:
    """Without a cluster there is no discovery: a kind the table does not know counts as namespaced here, and the
    real run asks the API server."""
    return BUILT_IN.get((split_api_version(api_version)[0], kind), True)


class KindScopes:
    """Whether a kind is namespaced: the built-in table, else the API server's discovery, asked once per
    group-version and run (so a run that changes nothing asks nothing). Shared by the run's worker threads."""

    def __init__(self, discovery: Discovery) -> None:
        self._discovery = discovery
        self._lock = threading.Lock()
        self._served: dict[str, dict[str, bool]] = {}

    def namespaced(self, api_version: str, kind: str) -> bool:
        known = BUILT_IN.get((split_api_version(api_version)[0], kind))
        if known is not None:
            return known
        with self._lock:
            if api_version not in self._served:
                self._served[api_version] = self._discover(api_version)
            served = self._served[api_version]
        if kind not in served:
            raise ObjectsRefused(f"refused before helm applied anything: {kind} is not served as {api_version}")
        return served[kind]

    def _discover(self, api_version: str) -> dict[str, bool]:
        path = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
        try:
            listing = self._discovery.request("GET", path)
        except KubeError as error:
            raise ObjectsRefused(f"cannot tell whether {api_version} kinds are namespaced: {error}") from None
        resources = listing.get("resources")
        return {
            str(r.get("kind")): bool(r.get("namespaced"))
            for r in (resources if isinstance(resources, list) else [])
            if isinstance(r, Mapping) and "/" not in str(r.get("name", ""))
        }


def _objects(manifest: str) -> Iterator[Mapping[str, Any]]:
    """Only mappings: a document helm could not parse fails helm's own dry run before it reaches here."""
    for document in documents(manifest):
        for obj in document.objects:
            if isinstance(obj, Mapping):
                yield obj


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
