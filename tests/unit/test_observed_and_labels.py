"""Release records → releases, and the labels that carry ownership within Kubernetes' 63-character limit."""

from __future__ import annotations

from typing import Any

from reconcile.labels import LABEL_VALUE, label_value, ownership_labels
from reconcile.model import ReleaseStatus
from reconcile.observed import observed_releases
from tests.unit.factories import owner


def record(name: str, version: int, status: str, namespace: str = "ns", **labels: str) -> dict[str, Any]:
    return {
        "metadata": {
            "namespace": namespace,
            "name": f"sh.helm.release.v1.{name}.v{version}",
            "labels": {"owner": "helm", "name": name, "version": str(version), "status": status, **labels},
        }
    }


def test_latest_revision_wins_and_history_tells_if_it_ever_deployed() -> None:
    releases = observed_releases(
        [
            record("a", 1, "superseded"),
            record("a", 3, "failed"),
            record("a", 2, "superseded"),
            record("b", 1, "failed"),
            record("c", 1, "pending-install", namespace="other"),
        ]
    )
    summary = {str(r.key): (r.revision, r.status, r.ever_deployed) for r in releases}
    assert summary == {
        "ns/a": (3, ReleaseStatus.FAILED, True),
        "ns/b": (1, ReleaseStatus.FAILED, False),
        "other/c": (1, ReleaseStatus.PENDING_INSTALL, False),
    }


def test_a_release_an_older_helmcr_labelled_counts_as_moved_by_a_rollout_until_relabelled() -> None:
    moved = {
        r.key.name: r.by_rollout
        for r in observed_releases(
            [
                record("old", 1, "failed"),
                record("wave", 1, "deployed", **{"helmcr.io/rollout": "true"}),
                record("own", 1, "failed", **{"helmcr.io/rollout": "false"}),
            ]
        )
    }
    assert moved == {"old": True, "wave": True, "own": False}, "a halted rollout stays halted across the upgrade"


def test_records_that_are_not_helm_releases_are_ignored() -> None:
    junk = [
        {"metadata": {"labels": {"owner": "someone"}}},
        record("a", 1, "deployed") | {"metadata": {}},
        {"metadata": {"labels": {"owner": "helm", "name": "x", "version": "one"}}},
    ]
    assert observed_releases(junk) == []


def test_unknown_status_is_kept_as_unknown_not_dropped() -> None:
    (release,) = observed_releases([record("a", 1, "exotic")])
    assert release.status is ReleaseStatus.UNKNOWN


def test_long_names_fit_label_values_and_stay_distinct() -> None:
    long_a, long_b = "a" * 200 + "x", "a" * 200 + "y"
    assert len(label_value(long_a)) <= 63 and LABEL_VALUE.match(label_value(long_a))
    assert label_value(long_a) != label_value(long_b)
    assert label_value("short-name") == "short-name"
    assert LABEL_VALUE.match(label_value("-weird/name-"))


def test_ownership_labels_are_all_valid_label_values() -> None:
    labels = ownership_labels(owner(name="n" * 253, uid="6f1c2a9e-3b7d-4c1e-9a55-0d2f8e7b6a41"), "d" * 40)
    assert all(len(v) <= 63 and LABEL_VALUE.match(v) for v in labels.values())
