"""Observe one kind, in one shape whether or not there is a cluster: an Inventory for the planner, and a reader of
what each release has deployed now (for the preview's diffs).

``ClusterSource`` costs one LIST of the CRs and one metadata-only LIST of release records per namespace scope;
only when some CR has no release yet, one more LIST checks that no one else's release holds its name. A LIST that
fails raises, so a partial view is never planned on. ``OfflineSource`` has no cluster at all: CR files (say, the
target branch's) stand for what is deployed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

from reconcile.adapters.helm_storage import read_release
from reconcile.adapters.kube import SECRETS, Kube, ResourceType
from reconcile.adapters.liveobjects import LiveObjects
from reconcile.assess import Inventory
from reconcile.crfiles import load_resources
from reconcile.desired import release_key, secrets_of
from reconcile.errors import KubeNotFound
from reconcile.labels import named_selector, owned_selector
from reconcile.livereport import LiveReport
from reconcile.manifests import release_manifest
from reconcile.model import Desired, Observed, ReleaseKey, ReleaseStatus, Step
from reconcile.objectcheck import KindScopes, namespaced_offline
from reconcile.observed import observed_releases
from reconcile.pulls import RemoteCharts
from reconcile.settings import DriftMode, Scope, Selector, Watch
from reconcile.shards import shard_identity

NAMES_PER_QUERY = 100

ToDesired = Callable[[Mapping[str, Any]], Desired]
Deployed = tuple[Mapping[str, Any] | None, str]
"""The values and the manifest (hooks included) a release has now."""
DeployedReader = Callable[[Step], Deployed]


class Source(Protocol):
    def observe(self, watch: Watch, to_desired: ToDesired) -> Inventory: ...

    def deployed(self, watch: Watch, charts: RemoteCharts) -> DeployedReader: ...

    def namespaced(self, api_version: str, kind: str) -> bool:
        """Whether objects of a kind live in a namespace, for the object check of a preview."""
        ...


def resource_type(watch: Watch) -> ResourceType:
    return ResourceType(watch.group, watch.version, watch.resource_plural)


class ClusterSource:
    """The cluster's CRs (or, with ``files``, CR files that replace them: a pull-request preview, where the cluster's
    CRs only lend them their identity and a cluster CR missing from the files counts as deleted)."""

    def __init__(self, kube: Kube, scope: Scope, page_size: int, files: tuple[Path, ...] = ()) -> None:
        self.kube = kube
        self.scope = scope
        self.page_size = page_size
        self.files = files
        kinds = KindScopes(kube)
        self.namespaced = kinds.namespaced
        self.served = kinds.served
        self.live_objects = LiveObjects(kube, kinds, page_size)

    def observe(self, watch: Watch, to_desired: ToDesired) -> Inventory:
        resources: Iterable[dict[str, Any]] = self._list_resources(watch)
        if self.files:
            files = load_resources(self.files, watch, self.scope.default_namespace())
            resources = _with_cluster_identity(files, list(resources))
        cr_scopes = _scopes(watch, self.scope)
        found = _Found(watch)
        desired = [
            _in_scope(to_desired(r), cr_scopes)
            for r in map(found.count, resources)
            if found.taken(r, _selected(r, watch.selector, self.scope))
        ]
        owned: list[Observed] = []
        release_scopes: list[str | None] = [watch.target_namespace] if watch.target_namespace else cr_scopes
        if not watch.target_namespace and found.total and not found.namespaced:
            # A cluster-scoped kind without targetNamespace: its releases have nowhere to be, each CR is blocked
            # saying so; listing Secrets cluster-wide, which its own RBAC rightly forbids, would only hide that.
            release_scopes = []
        for namespace in release_scopes:
            owned += self._releases(namespace, owned_selector(watch.group, watch.kind))
        # A superseded "latest" revision of ours means a newer revision is labelled for someone else (another
        # kind upgraded the release): the release is theirs now, and looking it up by name says so.
        taken = {o.key for o in owned if o.status is ReleaseStatus.SUPERSEDED}
        owned = [o for o in owned if o.key not in taken]
        owned_keys = {o.key for o in owned}
        wanted = {d.key for d in desired if not d.invalid}
        unmatched = [d.key for d in desired if not d.invalid and d.key not in owned_keys]
        return Inventory(
            desired=tuple(desired),
            owned=tuple(o for o in owned if _owner_in_scope(o, cr_scopes)),
            others=tuple(self._others(sorted(set(unmatched) | taken))),
            present_uids=frozenset(found.uids),
            claimed=frozenset(found.keys),
            complete=True,
            adopt=watch.adopt,
            now=time.time(),
            policy=watch.policy,
            live=self._live(watch, release_scopes, [o for o in owned if o.key in wanted], wanted),
            drift=watch.live.drift,
            shard=self.scope.shard,
        )

    def _live(
        self, watch: Watch, scopes: list[str | None], owned: list[Observed], keys: set[ReleaseKey]
    ) -> dict[ReleaseKey, LiveReport]:
        """Drift and health of the releases whose CR is still here (an orphan is uninstalled, not corrected)."""
        if not watch.live.active:
            return {}
        reports = self.live_objects.reports(watch.group, watch.kind, scopes, owned, watch.live)
        unread = LiveReport(drift_checked=watch.live.drift is not DriftMode.OFF, health=watch.live.health, read=False)
        return {key: reports.get(key, unread) for key in keys}

    def deployed(self, watch: Watch, charts: RemoteCharts) -> DeployedReader:
        """The values and manifest stored in the release's latest record (no chart is rendered or pulled)."""

        def read(step: Step) -> Deployed:
            assert step.observed is not None, "only a step on an existing release has a deployed side"
            release = read_release(self.kube, step.key, step.observed.revision)
            return release.get("config") or {}, release_manifest(release, with_hooks=not watch.helm.disable_hooks)

        return read

    def _list_resources(self, watch: Watch) -> Iterator[dict[str, Any]]:
        """Page by page: each CR is made a Desired (or counted) and dropped before the next page is read."""
        for namespace in _scopes(watch, self.scope):
            try:
                yield from self.kube.stream(resource_type(watch), namespace, self.page_size, kind=watch.kind)
            except KubeNotFound:
                raise KubeNotFound(
                    f"the API server does not serve {watch.resource_plural}.{watch.group}/{watch.version}: is the "
                    f"CRD installed, and are group, version and kind (or plural) right in the config?"
                ) from None

    def _releases(self, namespace: str | None, selector: str) -> list[Observed]:
        records = self.kube.stream(SECRETS, namespace, self.page_size, selector, metadata_only=True)
        return observed_releases(records)

    def _others(self, keys: list[ReleaseKey]) -> list[Observed]:
        """Releases already holding a name some new CR wants (or that another kind took over): the only reasons a
        no-op run never asks this."""
        by_namespace: dict[str, list[str]] = {}
        for key in keys:
            by_namespace.setdefault(key.namespace, []).append(key.name)
        found: list[Observed] = []
        for namespace, names in sorted(by_namespace.items()):
            for start in range(0, len(names), NAMES_PER_QUERY):
                found += self._releases(namespace, named_selector(names[start : start + NAMES_PER_QUERY]))
        return found


class _Found:
    """What observe keeps of every CR listed, selected or not, as it streams past."""

    def __init__(self, watch: Watch) -> None:
        self.watch = watch
        self.uids: set[str] = set()
        self.keys: set[ReleaseKey] = set()
        self.total = 0
        self.namespaced = False

    def count(self, resource: dict[str, Any]) -> dict[str, Any]:
        self.total += 1
        metadata = resource.get("metadata") or {}
        if uid := str(metadata.get("uid") or ""):
            self.uids.add(uid)
        self.namespaced = self.namespaced or bool(metadata.get("namespace"))
        return resource

    def taken(self, resource: dict[str, Any], selected: bool) -> bool:
        """``selected``; a CR this run does not take (another shard's, unselected) still claims its release, so the
        release is never taken for an orphan. A taken CR's key is its Desired's: not made twice."""
        if not selected:
            metadata = resource.get("metadata") or {}
            namespace, name = str(metadata.get("namespace") or ""), str(metadata.get("name") or "")
            self.keys.add(release_key(namespace, name, self.watch))
        return selected


class OfflineSource:
    """No cluster: ``base`` CR files stand for what is deployed (each as revision 1, deployed, owned), ``files``
    for what is wanted; both are rendered with ``helm template``."""

    def __init__(self, scope: Scope, base: tuple[Path, ...], files: tuple[Path, ...]) -> None:
        self.scope = scope
        self.base = base
        self.files = files
        self._deployed: dict[str, dict[ReleaseKey, Desired]] = {}
        self.namespaced = namespaced_offline

    def observe(self, watch: Watch, to_desired: ToDesired) -> Inventory:
        def selected(paths: tuple[Path, ...]) -> list[Desired]:
            resources = load_resources(paths, watch, self.scope.default_namespace())
            chosen = [r for r in resources if _selected(r, watch.selector, self.scope)]
            return [_in_scope(to_desired(r), _scopes(watch, self.scope)) for r in chosen]

        deployed = {d.key: d for d in selected(self.base) if not d.invalid}
        self._deployed[str(watch)] = deployed
        owned = tuple(
            Observed(key, 1, ReleaseStatus.DEPLOYED, owner=d.owner, digest=d.digest, kept=d.keep)
            for key, d in sorted(deployed.items())
        )
        return Inventory(
            desired=tuple(selected(self.files)), owned=owned, adopt=watch.adopt, now=time.time(), policy=watch.policy
        )

    def deployed(self, watch: Watch, charts: RemoteCharts) -> DeployedReader:
        """What the base CR files render to."""
        base = self._deployed.get(str(watch), {})

        def read(step: Step) -> Deployed:
            before = base[step.key]
            manifest = charts.render(step.key, before.chart, before.values, watch.helm, True, secrets_of(before))
            return before.values, manifest

        return read


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


def _identity(resource: Mapping[str, Any]) -> tuple[str, str]:
    metadata = resource.get("metadata") or {}
    return str(metadata.get("namespace") or ""), str(metadata.get("name") or "")


def _in_scope(desired: Desired, scopes: list[str | None]) -> Desired:
    """A CR from a file may name any namespace; one outside the kind's (and the command line's) is not this run's
    to render or change, so it is blocked rather than previewed there."""
    namespace = desired.owner.namespace
    if not namespace or None in scopes or namespace in scopes or desired.invalid:
        return desired
    inside = ", ".join(str(s) for s in scopes) or "none"
    return replace(desired, invalid=f"namespace {namespace} is outside this kind's namespaces ({inside})")


def _scopes(watch: Watch, scope: Scope) -> list[str | None]:
    """Namespaces to list in: the config's and the command line's, intersected; None means cluster-wide."""
    if watch.namespaces and scope.namespaces:
        return [n for n in watch.namespaces if n in scope.namespaces]
    chosen = watch.namespaces or scope.namespaces
    return list(chosen) if chosen else [None]


def _owner_in_scope(observed: Observed, scopes: list[str | None]) -> bool:
    """By the owning CR's namespace, not the release's: with a targetNamespace, a run over one (or a mistyped)
    namespace must not take the releases of every other namespace's CRs for orphans."""
    owner_namespace = observed.owner.namespace if observed.owner else ""
    return any(scope is None or scope == owner_namespace for scope in scopes)


def _selected(resource: Mapping[str, Any], selector: Selector, scope: Scope) -> bool:
    metadata = resource.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    labels = metadata.get("labels") or {}
    if not (selector.matches(labels) and scope.selector.matches(labels)):
        return False
    identity = shard_identity(str(metadata.get("uid") or ""), *_identity(resource))
    return scope.shard.owns(identity)
