"""The preview's live side: the deployed objects with what the live pass found in place of what drifted."""

from __future__ import annotations

import yaml

from reconcile.asfound import as_found
from reconcile.diff.manifests import diff_manifests
from reconcile.livereport import MISSING, Drift, ObjectRef

MANIFEST = """\
---
# Source: cache/templates/statefulset.yaml
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: cache
  labels: {app: cache, "app.kubernetes.io/name": cache}
spec:
  replicas: 1
  template:
    spec:
      containers:
      - name: memcached
        image: memcached:1.6
        env: [{name: A, value: "1"}, {name: B, value: "2"}]
---
# Source: cache/templates/svc.yaml
apiVersion: v1
kind: Service
metadata: {name: cache}
spec: {ports: [{port: 11211}]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: cache}
"""
STATEFULSET = ObjectRef("StatefulSet", "team-a", "cache", "apps/v1")
DRIFT = (
    Drift(STATEFULSET, "/spec/replicas", 1, 3, ("kubectl",)),
    Drift(STATEFULSET, "/spec/template/spec/containers/0/env/0", {"name": "A", "value": "1"}, MISSING),
    Drift(STATEFULSET, "/metadata/labels/app.kubernetes.io~1name", "cache", MISSING),
    Drift(ObjectRef("Service", "team-a", "cache", "v1")),
)


def test_drifted_fields_take_their_live_values_and_missing_objects_are_left_out() -> None:
    found = {body["kind"]: body for body in yaml.safe_load_all(as_found(MANIFEST, "team-a", DRIFT))}
    assert set(found) == {"StatefulSet", "ClusterRole"}, "the deleted Service is not there; the rest is untouched"
    statefulset = found["StatefulSet"]
    assert statefulset["spec"]["replicas"] == 3
    assert statefulset["metadata"]["labels"] == {"app": "cache"}
    assert statefulset["spec"]["template"]["spec"]["containers"][0]["env"] == [{"name": "B", "value": "2"}]


def test_the_diff_to_the_rendered_objects_shows_what_a_correction_puts_back() -> None:
    diff = diff_manifests(as_found(MANIFEST, "team-a", DRIFT), MANIFEST, namespace="team-a")
    changes = {change.label.split(" ")[0]: change for change in diff.objects}
    assert (changes["StatefulSet"].change, changes["Service"].change) == ("changed", "added")
    assert "-  replicas: 3" in changes["StatefulSet"].diff and "+  replicas: 1" in changes["StatefulSet"].diff
    assert "ClusterRole" not in changes


def test_an_object_of_another_namespace_or_without_drift_is_the_manifest_itself() -> None:
    elsewhere = (Drift(ObjectRef("Service", "team-b", "cache", "v1")),)
    assert as_found(MANIFEST, "team-a", ()) == MANIFEST
    assert {b["kind"] for b in yaml.safe_load_all(as_found(MANIFEST, "team-a", elsewhere))} == {
        "StatefulSet",
        "Service",
        "ClusterRole",
    }


def test_a_key_yaml_read_as_a_number_is_the_one_its_pointer_names() -> None:
    manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ports}\ndata: {80: http, 443: https}\n"
    drift = (Drift(ObjectRef("ConfigMap", "team-a", "ports", "v1"), "/data/80", "http", MISSING),)
    (found,) = yaml.safe_load_all(as_found(manifest, "team-a", drift))
    assert found["data"] == {443: "https"}
