"""Kinds: the one scaffold makes, and the rendered ones → the RBAC resources and scope they need, offline.

RBAC names resources (``statefulsets`` in group ``apps``), a manifest names kinds (``apps/v1`` ``StatefulSet``).
Offline there is no discovery, so the built-in kinds come from :mod:`reconcile.apikinds`. Any other kind (a CRD's)
gets the lower-case plural Kubernetes tooling derives and is assumed namespaced, with a warning to check both.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconcile.apikinds import BUILT_IN, split_api_version
from reconcile.settings import guess_plural

_IRREGULAR = {"Endpoints": "endpoints"}
# API versions Kubernetes no longer serves, and the release by which every kind of it was gone.
REMOVED_BY = {
    "apps/v1beta1": "1.16",
    "apps/v1beta2": "1.16",
    "extensions/v1beta1": "1.22",
    "admissionregistration.k8s.io/v1beta1": "1.22",
    "apiextensions.k8s.io/v1beta1": "1.22",
    "apiregistration.k8s.io/v1beta1": "1.22",
    "certificates.k8s.io/v1beta1": "1.22",
    "coordination.k8s.io/v1beta1": "1.22",
    "networking.k8s.io/v1beta1": "1.22",
    "rbac.authorization.k8s.io/v1alpha1": "1.22",
    "rbac.authorization.k8s.io/v1beta1": "1.22",
    "scheduling.k8s.io/v1beta1": "1.22",
    "batch/v1beta1": "1.25",
    "discovery.k8s.io/v1beta1": "1.25",
    "events.k8s.io/v1beta1": "1.25",
    "node.k8s.io/v1beta1": "1.25",
    "policy/v1beta1": "1.25",
    "autoscaling/v2beta1": "1.25",
    "autoscaling/v2beta2": "1.26",
    "flowcontrol.apiserver.k8s.io/v1beta1": "1.26",
    "storage.k8s.io/v1beta1": "1.27",
    "flowcontrol.apiserver.k8s.io/v1beta2": "1.29",
    "flowcontrol.apiserver.k8s.io/v1beta3": "1.32",
}


@dataclass(frozen=True, order=True)
class Resource:
    """What an RBAC rule names, and whether objects of the kind live in a namespace."""

    group: str
    resource: str
    namespaced: bool
    known: bool = True

    def __str__(self) -> str:
        return f"{self.resource}.{self.group}" if self.group else self.resource


@dataclass(frozen=True)
class CustomKind:
    """The kind scaffold makes for the chart: one CRD, one kind, one version."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool = True

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{self.group}"


def resource_of(api_version: str, kind: str) -> Resource:
    group, _ = split_api_version(api_version)
    namespaced = BUILT_IN.get((group, kind))
    plural = _IRREGULAR.get(kind) or guess_plural(kind)
    if namespaced is None:
        return Resource(group, plural, namespaced=True, known=False)
    return Resource(group, plural, namespaced)


def removal_note(api_version: str, kind: str) -> str:
    """Why the chart, as rendered, cannot be installed on a current cluster; empty when the version is served."""
    removed = REMOVED_BY.get(api_version)
    if removed is None:
        return ""
    return f"{kind} is rendered as {api_version}, which Kubernetes ≥{removed} no longer serves: it cannot install there"
