"""Kinds: the one scaffold makes, and the rendered ones → the RBAC resources and scope they need, offline.

RBAC names resources (``statefulsets`` in group ``apps``), a manifest names kinds (``apps/v1`` ``StatefulSet``).
Offline there is no discovery, so the built-in kinds come from this table (the version does not matter to RBAC:
``apps/v1beta1`` and ``apps/v1`` StatefulSets are both ``apps/statefulsets``). Any other kind (a CRD's) gets the
lower-case plural Kubernetes tooling derives and is assumed namespaced, with a warning to check both.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconcile.settings import guess_plural

_NAMESPACED = {
    "": (
        "ConfigMap Endpoints Event LimitRange PersistentVolumeClaim Pod PodTemplate ReplicationController "
        "ResourceQuota Secret Service ServiceAccount"
    ),
    "apps": "ControllerRevision DaemonSet Deployment ReplicaSet StatefulSet",
    "autoscaling": "HorizontalPodAutoscaler",
    "batch": "CronJob Job",
    "coordination.k8s.io": "Lease",
    "discovery.k8s.io": "EndpointSlice",
    "events.k8s.io": "Event",
    "extensions": "DaemonSet Deployment Ingress NetworkPolicy ReplicaSet",
    "networking.k8s.io": "Ingress NetworkPolicy",
    "policy": "PodDisruptionBudget",
    "rbac.authorization.k8s.io": "Role RoleBinding",
    "storage.k8s.io": "CSIStorageCapacity",
}
_CLUSTER = {
    "": "Namespace Node PersistentVolume",
    "admissionregistration.k8s.io": (
        "MutatingWebhookConfiguration ValidatingAdmissionPolicy ValidatingAdmissionPolicyBinding "
        "ValidatingWebhookConfiguration"
    ),
    "apiextensions.k8s.io": "CustomResourceDefinition",
    "apiregistration.k8s.io": "APIService",
    "certificates.k8s.io": "CertificateSigningRequest",
    "extensions": "PodSecurityPolicy",
    "flowcontrol.apiserver.k8s.io": "FlowSchema PriorityLevelConfiguration",
    "networking.k8s.io": "IngressClass",
    "node.k8s.io": "RuntimeClass",
    "policy": "PodSecurityPolicy",
    "rbac.authorization.k8s.io": "ClusterRole ClusterRoleBinding",
    "scheduling.k8s.io": "PriorityClass",
    "storage.k8s.io": "CSIDriver CSINode StorageClass VolumeAttachment",
}
_IRREGULAR = {"Endpoints": "endpoints"}
BUILT_IN: dict[tuple[str, str], bool] = {
    **{(group, kind): True for group, kinds in _NAMESPACED.items() for kind in kinds.split()},
    **{(group, kind): False for group, kinds in _CLUSTER.items() for kind in kinds.split()},
}
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


def split_api_version(api_version: str) -> tuple[str, str]:
    """``apps/v1`` → (``apps``, ``v1``); ``v1`` → (``""``, ``v1``): the core group has no name."""
    group, _, version = api_version.rpartition("/")
    return group, version


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
