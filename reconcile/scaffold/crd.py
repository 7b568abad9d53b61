"""The CustomResourceDefinition: the chart's values as ``spec``, helmcr's status, and columns for ``kubectl get``.

The status schema describes every field :mod:`reconcile.status` writes, and keeps unknown ones: a newer helmcr may
add a field before the CRD is regenerated, and if the API server pruned it, every run would see a status that
differs from what it wants and write it again.
"""

from __future__ import annotations

from typing import Any

from reconcile.scaffold.documents import manifest
from reconcile.scaffold.kinds import CustomKind
from reconcile.scaffold.openapi import PRESERVE, Node

READY = '.status.conditions[?(@.type=="Ready")]'
PRINTER_COLUMNS = [
    {"name": "Ready", "type": "string", "jsonPath": f"{READY}.status"},
    {"name": "Reason", "type": "string", "jsonPath": f"{READY}.reason"},
    {"name": "Revision", "type": "integer", "jsonPath": ".status.revision", "description": "Helm release revision"},
    {"name": "Chart", "type": "string", "jsonPath": ".status.chartVersion", "description": "Chart version deployed"},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    {"name": "Message", "type": "string", "jsonPath": ".status.message", "priority": 1},
]


def _string(description: str, **extra: Any) -> Node:
    return {"type": "string", "description": description, **extra}


def _integer(description: str) -> Node:
    return {"type": "integer", "format": "int64", "description": description}


CONDITION: Node = {
    "type": "object",
    "required": ["type", "status"],
    "properties": {
        "type": _string("Ready: the release matches the spec."),
        "status": _string("True, False or Unknown.", enum=["True", "False", "Unknown"]),
        "reason": _string("One word: InstallSucceeded, UpgradeSucceeded, InSync, InstallFailed, Blocked, …"),
        "message": _string("What happened, for humans."),
        "observedGeneration": _integer("The generation of the spec this condition is about."),
        "lastTransitionTime": _string("When status last changed.", format="date-time"),
    },
}
STATUS: Node = {
    "type": "object",
    "description": "What helmcr did with this resource, written after each change.",
    PRESERVE: True,
    "properties": {
        "conditions": {
            "type": "array",
            "items": CONDITION,
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["type"],
        },
        "observedGeneration": _integer("The generation of the spec helmcr last acted on."),
        "releaseName": _string("The Helm release."),
        "releaseNamespace": _string("The Helm release's namespace."),
        "revision": _integer("The release revision deployed."),
        "chart": _string("The chart deployed."),
        "chartVersion": _string("The chart version deployed."),
        "digest": _string("Hash of chart, values and release identity deployed; a change means an upgrade."),
        "lastAppliedTime": _string("When helmcr last installed or upgraded the release.", format="date-time"),
        "message": _string("The outcome of the last run, for humans."),
        "failures": _integer("Consecutive failed attempts at the same spec; retries back off."),
        "failedDigest": _string("The digest those failures were for."),
        "failedRollout": _string("The kind-wide change (fleet digest) whose rollout wave failed here."),
        "nextAttemptTime": _string(
            "When helmcr next retries (annotate helmcr.io/retry to retry now).", format="date-time"
        ),
        "retryHandled": _string("The last helmcr.io/retry annotation value helmcr acted on."),
        "upgrades": {
            "type": "array",
            "description": "The release's upgrades of the last 24 hours, which the churn guard counts.",
            "maxItems": 1000,
            "items": {
                "type": "object",
                "properties": {
                    "time": _string("When.", format="date-time"),
                    "digest": _string("To which digest."),
                },
            },
        },
    },
}


def custom_resource_definition(kind: CustomKind, chart: str, spec: Node) -> dict[str, Any]:
    schema = {
        "type": "object",
        "description": f"{kind.kind} deploys the Helm chart {chart} with helmcr: spec holds its values.",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": {**spec, "description": f"Values for the chart {chart} (values.yaml), merged over its defaults."},
            "status": STATUS,
        },
    }
    return {
        **manifest("apiextensions.k8s.io/v1", "CustomResourceDefinition", kind.crd_name, None, {}),
        "spec": {
            "group": kind.group,
            "names": {
                "kind": kind.kind,
                "listKind": f"{kind.kind}List",
                "plural": kind.plural,
                "singular": kind.singular,
                "categories": ["helmcr"],
            },
            "scope": "Namespaced" if kind.namespaced else "Cluster",
            "versions": [
                {
                    "name": kind.version,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": PRINTER_COLUMNS,
                    "schema": {"openAPIV3Schema": schema},
                }
            ],
        },
    }
