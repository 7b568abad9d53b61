"""Read what the releases of one kind applied, and those objects as they are now: the input of drift and health.

The cost is stated, not hidden: per namespace scope one LIST of the kind's deployed release records with their
payloads (the manifests), one discovery GET per API group-version the manifests use, and one LIST per resource
type and namespace the manifests name, however many releases share it. Never one request per release or object.
A LIST that is refused (RBAC) or a kind that is not served leaves those objects unchecked, said in the report;
it never fails the kind.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconcile.adapters.helm_storage import CorruptRecordError, decode
from reconcile.adapters.kube import SECRETS, Kube, ResourceType
from reconcile.apikinds import split_api_version
from reconcile.drift import helm_wrote, object_drift
from reconcile.errors import KubeError, ObjectsRefused
from reconcile.health import not_ready
from reconcile.labels import owned_selector
from reconcile.livereport import Drift, LiveReport, ObjectRef
from reconcile.manifests import release_manifest, written_objects
from reconcile.model import Observed, ReleaseKey, ReleaseStatus
from reconcile.objectcheck import KindScopes
from reconcile.settings import DriftMode, LiveChecks

PAYLOAD_PAGE = 100  # release payloads carry the whole chart: smaller pages bound the memory a page takes


@dataclass(frozen=True)
class Applied:
    """One object of a release's manifest, and where its live twin is listed."""

    ref: ObjectRef
    body: Mapping[str, Any]
    where: tuple[ResourceType, str] | None  # None: its kind is not served, or not known
    problem: str = ""


class LiveObjects:
    def __init__(self, kube: Kube, kinds: KindScopes, page_size: int) -> None:
        self.kube = kube
        self.kinds = kinds
        self.page_size = page_size

    def reports(
        self, group: str, kind: str, namespaces: Sequence[str | None], owned: Iterable[Observed], checks: LiveChecks
    ) -> dict[ReleaseKey, LiveReport]:
        """A report for each deployed release in ``owned``."""
        deployed = {o.key: o.revision for o in owned if o.status is ReleaseStatus.DEPLOYED}
        if not deployed:
            return {}
        manifests = self._manifests(group, kind, namespaces, deployed)
        applied = {key: [self._placed(obj, key) for obj in objects] for key, objects in manifests.items()}
        live, refused = self._live({a.where for objects in applied.values() for a in objects if a.where})
        return {key: _report(objects, live, refused, checks) for key, objects in applied.items()}

    def _manifests(
        self, group: str, kind: str, namespaces: Sequence[str | None], deployed: Mapping[ReleaseKey, int]
    ) -> dict[ReleaseKey, list[Mapping[str, Any]]]:
        selector = f"{owned_selector(group, kind)},status=deployed"
        found: dict[ReleaseKey, list[Mapping[str, Any]]] = {}
        for namespace in namespaces:
            for secret in self.kube.list(SECRETS, namespace, min(self.page_size, PAYLOAD_PAGE), selector):
                metadata = secret.get("metadata") or {}
                labels = metadata.get("labels") or {}
                key = ReleaseKey(str(metadata.get("namespace") or ""), str(labels.get("name") or ""))
                revision = str(labels.get("version") or "")
                if key not in deployed or revision != str(deployed[key]):
                    continue
                try:
                    release = decode(secret, key, deployed[key])
                except CorruptRecordError:
                    continue  # helm itself refuses such a record; the upgrade that follows says so
                objects = written_objects(release_manifest(release, with_hooks=False))  # hooks are run and deleted
                if objects is not None:
                    found[key] = objects
        return found

    def _placed(self, body: Mapping[str, Any], key: ReleaseKey) -> Applied:
        metadata = body.get("metadata") or {}
        api_version, kind = str(body.get("apiVersion") or ""), str(body.get("kind"))
        try:
            served = self.kinds.served(api_version, kind)
        except ObjectsRefused as error:
            served, problem = None, str(error)
        else:
            problem = "" if served else f"{kind} is not served as {api_version}"
        namespace = str(metadata.get("namespace") or key.namespace) if served is None or served[0] else ""
        ref = ObjectRef(kind, namespace, str(metadata.get("name") or ""), api_version)
        if served is None:
            return Applied(ref, body, None, problem)
        group, version = split_api_version(api_version)
        return Applied(ref, body, (ResourceType(group, version, served[1]), namespace))

    def _live(
        self, places: set[tuple[ResourceType, str]]
    ) -> tuple[dict[tuple[ResourceType, str, str], Mapping[str, Any]], dict[tuple[ResourceType, str], str]]:
        """Every object of each (type, namespace), by name; and the places whose LIST failed, with why."""
        live: dict[tuple[ResourceType, str, str], Mapping[str, Any]] = {}
        refused: dict[tuple[ResourceType, str], str] = {}
        for resource, namespace in sorted(places, key=lambda p: (p[0].group, p[0].plural, p[1])):
            try:
                items = self.kube.list(resource, namespace or None, self.page_size)
            except KubeError as error:
                refused[(resource, namespace)] = (
                    f"cannot list {resource.plural} in {namespace or 'the cluster'}: {error}"
                )
                continue
            for item in items:
                live[(resource, namespace, str((item.get("metadata") or {}).get("name") or ""))] = item
        return live, refused


def _report(
    objects: Sequence[Applied],
    live: Mapping[tuple[ResourceType, str, str], Mapping[str, Any]],
    refused: Mapping[tuple[ResourceType, str], str],
    checks: LiveChecks,
) -> LiveReport:
    drift: list[Drift] = []
    waiting: list[tuple[ObjectRef, str]] = []
    unchecked: list[str] = []
    for applied in objects:
        if applied.where is None:
            unchecked.append(applied.problem)
            continue
        if applied.where in refused:
            unchecked.append(refused[applied.where])
            continue
        twin = live.get((*applied.where, applied.ref.name))
        if twin is None:
            drift.append(Drift(applied.ref))
            waiting.append((applied.ref, "missing"))
            continue
        if checks.drift is not DriftMode.OFF and helm_wrote(twin):
            drift += object_drift(applied.ref, applied.body, twin, checks)
        if checks.health and (why := not_ready(applied.ref.kind, twin)):
            waiting.append((applied.ref, why))
    return LiveReport(
        drift=tuple(drift) if checks.drift is not DriftMode.OFF else (),
        not_ready=tuple(waiting) if checks.health else (),
        unchecked=tuple(sorted(set(unchecked))),
        drift_checked=checks.drift is not DriftMode.OFF,
        health=checks.health,
    )
