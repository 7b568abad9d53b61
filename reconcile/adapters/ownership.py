"""Owner references from a release's objects to its CR, so that Kubernetes collects them when the CR is deleted,
whether or not a run follows (operator-sdk does the same; a one-shot run would otherwise leave them until the next
run uninstalls the release).

After each install or upgrade, every object of the release (hooks that are still there included) gets one
ownerReference to the CR, merged into those it has: read, then patched with the resourceVersion read (and read
again when a controller wrote it meanwhile), so a concurrent writer is never overwritten and an object that is
gone is never created. It is done as the identity helm acted as (``serviceAccountName``), never with helmcr's own
rights. What Kubernetes cannot collect is said,
not forced: an object in another namespace than a namespaced CR, or a cluster-scoped one (an owner reference
may not cross namespaces). A CR labelled to keep its release (``helmcr.io/keep``) has its references taken back
instead. helm's own uninstall is unaffected: it deletes what is left and ignores what is gone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from reconcile.adapters.kube import Kube, ResourceType
from reconcile.apikinds import split_api_version
from reconcile.errors import KubeConflict, KubeError, KubeNotFound, ObjectsRefused
from reconcile.manifests import written_objects
from reconcile.model import ResourceRef

Served = Callable[[str, str], tuple[bool, str] | None]
CONFLICT_ATTEMPTS = 5  # reads and conditional writes per object before its conflict is reported


def claim(
    kube: Kube,
    served: Served,
    owner: ResourceRef,
    owner_api_version: str,
    release: Mapping[str, Any],
    as_user: str,
    keep: bool = False,
) -> list[str]:
    """Point every object of ``release`` at ``owner`` (or, for a kept release, no longer); returns what could not
    be done, one line each."""
    reference = {"apiVersion": owner_api_version, "kind": owner.kind, "name": owner.name, "uid": owner.uid}
    problems = []
    namespace = str(release.get("namespace") or "")
    for body in _objects(release):
        try:
            problem = _claim_one(kube, served, owner, body, namespace, reference, as_user, keep)
        except (KubeError, ObjectsRefused) as error:
            problem = f"{body.get('kind')} {(body.get('metadata') or {}).get('name')}: {error}"
        if problem:
            problems.append(problem)
    return problems


def _claim_one(
    kube: Kube,
    served: Served,
    owner: ResourceRef,
    body: Mapping[str, Any],
    release_namespace: str,
    reference: Mapping[str, str],
    as_user: str,
    keep: bool,
) -> str:
    metadata = body.get("metadata") or {}
    api_version, kind, name = str(body.get("apiVersion") or ""), str(body.get("kind")), str(metadata.get("name"))
    found = served(api_version, kind)
    if found is None:
        return f"{kind} {name}: {kind} is not served as {api_version}"
    namespaced, plural = found
    namespace = str(metadata.get("namespace") or release_namespace) if namespaced else ""
    if owner.namespace and namespace != owner.namespace:
        where = f"namespace {namespace}" if namespace else "the cluster scope"
        return f"{kind} {name} is in {where}, which an owner reference from {owner} cannot reach"
    group, version = split_api_version(api_version)
    path = ResourceType(group, version, plural).path(namespace or None, name)
    for _ in range(CONFLICT_ATTEMPTS - 1):
        try:
            _reference(kube, path, reference, as_user, keep)
            return ""
        except KubeConflict:
            continue
    _reference(kube, path, reference, as_user, keep)  # a conflict again is reported by the caller
    return ""


def _reference(kube: Kube, path: str, reference: Mapping[str, str], as_user: str, keep: bool) -> None:
    """One read and, if the reference is not as wanted, one conditional write. A controller writing the object
    right after helm created it (a StatefulSet's status) makes the write conflict: the caller reads again."""
    try:
        live = kube.request("GET", path, impersonate=as_user)
    except KubeNotFound:
        return  # a hook helm deleted after it ran, or an object deleted since: nothing to collect
    live_metadata = live.get("metadata") or {}
    current = [r for r in live_metadata.get("ownerReferences") or [] if isinstance(r, Mapping)]
    others = [r for r in current if r.get("uid") != reference["uid"]]
    wanted = others if keep else [*others, dict(reference)]
    if [dict(r) for r in current] == wanted:
        return
    patch = {"metadata": {"ownerReferences": wanted, "resourceVersion": live_metadata.get("resourceVersion")}}
    kube.request("PATCH", path, body=patch, content_type="application/merge-patch+json", impersonate=as_user)


def _objects(release: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """The release's objects: its manifest's, then its hooks' (each hook is a manifest of its own)."""
    texts = [str(release.get("manifest") or "")]
    texts += [str(h.get("manifest") or "") for h in release.get("hooks") or [] if isinstance(h, Mapping)]
    for text in texts:
        yield from written_objects(text) or []
