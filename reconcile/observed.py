"""Helm release records (Secrets, metadata only) become one Observed per release: its latest revision.

Helm writes one Secret per revision, labelled ``owner=helm``, ``name``, ``status`` and ``version``, and copies a
release's own labels (``--labels``) onto it. Reading those labels is enough to know a release's state and whether
helmcr owns it, so the payload (gzipped, base64, often megabytes) is never fetched or decoded; that is what makes
``helm list`` take tens of seconds with a thousand releases, and a no-op helmcr run take one LIST.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from reconcile.clock import parse_time
from reconcile.labels import LABEL_DIGEST, LABEL_FLEET_DIGEST, LABEL_KEEP, LABEL_ROLLOUT, owner_from_labels
from reconcile.model import Observed, ReleaseKey, ReleaseStatus

DEPLOYED_ONCE = {ReleaseStatus.DEPLOYED, ReleaseStatus.SUPERSEDED}


@dataclass(frozen=True)
class _Record:
    key: ReleaseKey
    revision: int
    status: ReleaseStatus
    labels: Mapping[str, str]
    modified_at: float


def observed_releases(records: Iterable[Mapping[str, Any]]) -> list[Observed]:
    """Group release records by release and keep the latest revision of each, noting if any revision deployed."""
    latest: dict[ReleaseKey, _Record] = {}
    deployed: set[ReleaseKey] = set()
    for record in filter(None, map(_parse, records)):
        if record.status in DEPLOYED_ONCE:
            deployed.add(record.key)
        if record.key not in latest or record.revision > latest[record.key].revision:
            latest[record.key] = record
    return [_observed(record, record.key in deployed) for _, record in sorted(latest.items())]


def _observed(record: _Record, ever_deployed: bool) -> Observed:
    return Observed(
        key=record.key,
        revision=record.revision,
        status=record.status,
        owner=owner_from_labels(record.labels),
        digest=record.labels.get(LABEL_DIGEST, ""),
        fleet_digest=record.labels.get(LABEL_FLEET_DIGEST, ""),
        kept=record.labels.get(LABEL_KEEP) == "true",
        by_rollout=record.labels.get(LABEL_ROLLOUT) != "false",  # unlabelled (an older helmcr's): counts, as it did
        ever_deployed=ever_deployed,
        modified_at=record.modified_at,
    )


def _parse(record: Mapping[str, Any]) -> _Record | None:
    """A record that is not a well-formed Helm release record is ignored, never guessed at."""
    metadata = record.get("metadata") or {}
    labels: Mapping[str, str] = metadata.get("labels") or {}
    if labels.get("owner") != "helm" or not labels.get("name"):
        return None
    try:
        revision = int(labels.get("version", ""))
    except ValueError:
        return None
    try:
        status = ReleaseStatus(labels.get("status", ""))
    except ValueError:
        status = ReleaseStatus.UNKNOWN
    key = ReleaseKey(metadata.get("namespace", ""), labels["name"])
    return _Record(key, revision, status, labels, _modified_at(metadata))


def _modified_at(metadata: Mapping[str, Any]) -> float:
    """Helm stamps ``modifiedAt`` (epoch seconds) on each write of a record; older records only have their creation."""
    stamp = (metadata.get("labels") or {}).get("modifiedAt", "")
    if stamp.isdigit():
        return float(stamp)
    return parse_time(str(metadata.get("creationTimestamp") or ""))
