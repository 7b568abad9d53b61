"""Drift by field ownership: what the release applied and helm no longer owns, named by pointer and by manager."""

from __future__ import annotations

from typing import Any

import pytest

from reconcile.drift import helm_wrote, object_drift
from reconcile.livereport import MISSING, Drift, LiveReport, ObjectRef
from reconcile.settings import DriftMode, IgnoreRule, LiveChecks

REF = ObjectRef("StatefulSet", "team-a", "cache", "apps/v1")
CHECKS = LiveChecks(drift=DriftMode.CORRECT)
APPLIED: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "StatefulSet",
    "metadata": {"name": "cache", "labels": {"app.kubernetes.io/name": "memcached"}, "annotations": None},
    "spec": {
        "replicas": 1,
        "template": {
            "spec": {
                "containers": [
                    {
                        "name": "memcached",
                        "image": "memcached:1.6.38",
                        "ports": [{"containerPort": 11211, "name": "memcache"}],
                        "resources": {},
                    }
                ]
            }
        },
    },
}
CONTAINER = 'k:{"name":"memcached"}'
PORT = 'k:{"containerPort":11211,"protocol":"TCP"}'


def helm_fields(replicas: bool = True, image: bool = True) -> dict[str, Any]:
    container: dict[str, Any] = {".": {}, "f:name": {}, "f:ports": {PORT: {"f:containerPort": {}, "f:name": {}}}}
    if image:
        container["f:image"] = {}
    spec: dict[str, Any] = {"f:template": {"f:spec": {"f:containers": {CONTAINER: container}}}}
    if replicas:
        spec["f:replicas"] = {}
    return {"f:metadata": {"f:labels": {".": {}, "f:app.kubernetes.io/name": {}}}, "f:spec": spec}


def live(*others: tuple[str, dict[str, Any]], replicas: int = 1, image: str = "memcached:1.6.38") -> dict[str, Any]:
    managed = [{"manager": "helm", "operation": "Apply", "fieldsV1": helm_fields(replicas == 1, "1.6.38" in image)}]
    managed += [{"manager": name, "operation": "Update", "fieldsV1": fields} for name, fields in others]
    container = {
        "name": "memcached",
        "image": image,
        "ports": [{"containerPort": 11211, "name": "memcache", "protocol": "TCP"}],  # protocol: defaulted
        "resources": {},
    }
    return {
        "metadata": {"name": "cache", "labels": {"app.kubernetes.io/name": "memcached"}, "managedFields": managed},
        "spec": {"replicas": replicas, "template": {"spec": {"containers": [container]}}},
    }


SCALED: tuple[str, dict[str, Any]] = ("kubectl", {"f:spec": {"f:replicas": {}}})
SET_IMAGE: tuple[str, dict[str, Any]] = (
    "kubectl-set",
    {"f:spec": {"f:template": {"f:spec": {"f:containers": {CONTAINER: {"f:image": {}}}}}}},
)


def test_an_object_helm_still_owns_entirely_has_no_drift_whatever_the_server_defaulted() -> None:
    assert object_drift(REF, APPLIED, live(), CHECKS) == []


def test_an_atomic_map_helm_owns_whole_is_not_looked_into() -> None:
    applied = {"spec": {"selector": {"app": "cache"}}}
    owned = {"metadata": {"managedFields": [{"manager": "helm", "fieldsV1": {"f:spec": {"f:selector": {}}}}]}}
    assert object_drift(REF, applied, {**owned, "spec": {"selector": {"app": "cache"}}}, CHECKS) == []


def test_a_manual_scale_and_a_set_image_are_named_by_pointer_value_and_manager() -> None:
    found = object_drift(REF, APPLIED, live(SCALED, SET_IMAGE, replicas=2, image="memcached:1.6.40"), CHECKS)
    assert found == [
        Drift(REF, "/spec/replicas", 1, 2, ("kubectl",)),
        Drift(REF, "/spec/template/spec/containers/0/image", "memcached:1.6.38", "memcached:1.6.40", ("kubectl-set",)),
    ]
    assert found[0].describe() == "StatefulSet team-a/cache /spec/replicas: 1 → 2 (by kubectl)"


def test_a_field_an_ignored_manager_took_is_not_drift() -> None:
    autoscaled: tuple[str, dict[str, Any]] = ("kube-controller-manager", {"f:spec": {"f:replicas": {}}})
    assert object_drift(REF, APPLIED, live(autoscaled, replicas=5), CHECKS) == []
    fought = LiveChecks(drift=DriftMode.CORRECT, ignore_managers=())
    assert [d.pointer for d in object_drift(REF, APPLIED, live(autoscaled, replicas=5), fought)] == ["/spec/replicas"]


@pytest.mark.parametrize(
    ("rule", "ignored"),
    [
        (IgnoreRule(("/spec/replicas",)), True),
        (IgnoreRule(("/spec",)), True),
        (IgnoreRule(("/spec/replicas",), kind="StatefulSet", name="cache"), True),
        (IgnoreRule(("/spec/replicas",), kind="Deployment"), False),
        (IgnoreRule(("/spec/replicas",), name="other"), False),
        (IgnoreRule(("/spec/rep",)), False),
    ],
)
def test_ignore_rules_match_a_pointer_or_what_is_below_it_for_their_target(rule: IgnoreRule, ignored: bool) -> None:
    checks = LiveChecks(drift=DriftMode.CORRECT, ignore=(rule,))
    assert (object_drift(REF, APPLIED, live(SCALED, replicas=2), checks) == []) is ignored


def test_a_removed_field_is_drift() -> None:
    unlabelled = live()
    del unlabelled["metadata"]["labels"]["app.kubernetes.io/name"]  # kubectl label ... app.kubernetes.io/name-
    del unlabelled["metadata"]["managedFields"][0]["fieldsV1"]["f:metadata"]["f:labels"]["f:app.kubernetes.io/name"]
    (removed,) = object_drift(REF, APPLIED, unlabelled, CHECKS)
    assert (removed.pointer, removed.actual, removed.by) == ("/metadata/labels/app.kubernetes.io~1name", MISSING, ())
    assert removed.describe() == "StatefulSet team-a/cache /metadata/labels/app.kubernetes.io~1name was removed"


def test_values_of_a_secret_are_never_shown() -> None:
    secret = Drift(ObjectRef("Secret", "team-a", "creds"), "/data/password", "aHVudGVy", "b3RoZXI=", ("kubectl",))
    assert secret.describe() == "Secret team-a/creds /data/password changed (by kubectl)"


def test_an_object_helm_never_wrote_is_not_judged() -> None:
    renamed = live()
    renamed["metadata"]["managedFields"][0]["manager"] = "helm3"
    assert not helm_wrote(renamed) and helm_wrote(live())
    assert object_drift(REF, APPLIED, renamed, CHECKS) == []


def test_a_report_sums_up_and_fingerprints_its_drift() -> None:
    drift = tuple(Drift(REF, f"/spec/f{index}", 1, 2, ("kubectl",)) for index in range(5))
    report = LiveReport(drift=drift)
    assert report.drift_summary().endswith("and 2 more")
    assert report.fingerprint == LiveReport(drift=drift[::-1]).fingerprint != LiveReport(drift=drift[:4]).fingerprint
    assert LiveReport().fingerprint == ""
