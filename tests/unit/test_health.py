"""Health as kstatus judges it: workloads by their controllers' counts, Jobs by completion, the rest by conditions."""

from __future__ import annotations

from typing import Any

import pytest

from reconcile.health import not_ready


def obj(kind: str, spec: dict[str, Any], status: dict[str, Any], generation: int = 1) -> dict[str, Any]:
    return {"kind": kind, "metadata": {"generation": generation}, "spec": spec, "status": status}


ROLLED = {"observedGeneration": 1, "updatedReplicas": 2, "availableReplicas": 2, "readyReplicas": 2}


@pytest.mark.parametrize(
    ("live", "why"),
    [
        (obj("Deployment", {"replicas": 2}, ROLLED), ""),
        (obj("Deployment", {"replicas": 2}, ROLLED, generation=2), "its controller has not seen the latest spec yet"),
        (obj("Deployment", {"replicas": 2}, {**ROLLED, "availableReplicas": 1}), "1 of 2 replicas available"),
        (
            obj("Deployment", {"replicas": 1}, {**ROLLED, "replicas": 2, "updatedReplicas": 1, "availableReplicas": 1}),
            "1 old replica(s) not replaced yet: the new ones are not available",
        ),
        (
            obj(
                "Deployment",
                {},
                {
                    "observedGeneration": 1,
                    "conditions": [
                        {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "x"}
                    ],
                },
            ),
            "rollout failed: x",
        ),
        (obj("StatefulSet", {"replicas": 2}, ROLLED), ""),
        (obj("StatefulSet", {}, {"observedGeneration": 1}), "0 of 1 replicas ready"),
        (
            obj(
                "StatefulSet",
                {"replicas": 2, "updateStrategy": {"rollingUpdate": {"partition": 1}}},
                {**ROLLED, "updatedReplicas": 1},
            ),
            "",
        ),
        (
            obj(
                "DaemonSet",
                {},
                {
                    "observedGeneration": 1,
                    "desiredNumberScheduled": 1,
                    "updatedNumberScheduled": 1,
                    "numberAvailable": 0,
                },
            ),
            "0 of 1 replicas available",
        ),
        (obj("Job", {}, {"conditions": [{"type": "Complete", "status": "True"}]}), ""),
        (obj("Job", {}, {"active": 1}), "not complete yet (1 running, 0 failed)"),
        (
            obj("Job", {}, {"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]}),
            "failed: BackoffLimitExceeded",
        ),
        (
            obj(
                "Pod",
                {},
                {
                    "phase": "Pending",
                    "containerStatuses": [{"name": "app", "state": {"waiting": {"reason": "ErrImagePull"}}}],
                },
            ),
            "pod is Pending (app: ErrImagePull)",
        ),
        (obj("PersistentVolumeClaim", {}, {"phase": "Pending"}), "claim is Pending"),
        (
            obj("Certificate", {}, {"conditions": [{"type": "Ready", "status": "False", "message": "issuing"}]}),
            "not Ready: issuing",
        ),
        (
            obj("Widget", {}, {"conditions": [{"type": "Stalled", "status": "True", "message": "bad spec"}]}),
            "stalled: bad spec",
        ),
        (obj("ConfigMap", {}, {}), ""),
    ],
)
def test_why_an_object_is_not_up(live: dict[str, Any], why: str) -> None:
    assert not_ready(live["kind"], live) == why
