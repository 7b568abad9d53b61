"""Installing a CustomResourceDefinition and waiting until the API server serves it (tests, bench, demo).

A CRD is usable only once its Established condition is True; creating CRs before that fails with 404, which a
test would misread as a helmcr bug.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from kubernetes import client

CRDS = ("apiextensions.k8s.io", "v1", "customresourcedefinitions")
ESTABLISH_TIMEOUT = 30.0


def free_form_crd(group: str, version: str, kind: str, plural: str, spec_schema: Mapping[str, Any]) -> dict[str, Any]:
    """A namespaced CRD with a status subresource; ``spec_schema`` says how strict its spec is."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "names": {"kind": kind, "plural": plural, "singular": kind.lower(), "listKind": f"{kind}List"},
            "scope": "Namespaced",
            "versions": [
                {
                    "name": version,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": dict(spec_schema),
                                "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                            },
                        }
                    },
                }
            ],
        },
    }


def establish_crd(api: client.ApiClient, body: Mapping[str, Any]) -> None:
    """Create the CRD (an existing one is fine) and wait for Established."""
    custom = client.CustomObjectsApi(api)
    try:
        custom.create_cluster_custom_object(*CRDS, dict(body))
    except client.ApiException as error:
        if error.status != 409:
            raise
    name = body["metadata"]["name"]
    deadline = time.monotonic() + ESTABLISH_TIMEOUT
    while time.monotonic() < deadline:
        current: Any = custom.get_cluster_custom_object(*CRDS, name)
        conditions = (current.get("status") or {}).get("conditions") or []
        if any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions):
            return
        time.sleep(0.1)
    raise TimeoutError(f"CRD {name} was not established within {ESTABLISH_TIMEOUT:.0f} s")
