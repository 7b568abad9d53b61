"""Helm release records (Secrets, metadata only) become one Observed per release: its latest revision.

Helm writes one Secret per revision, labelled ``owner=helm``, ``name``, ``status`` and ``version``, and copies a
release's own labels (``--labels``) onto it. Reading those labels is enough to know a release's state and whether
helmcr owns it, so the payload (gzipped, base64, often megabytes) is never fetched or decoded; that is what makes
``helm list`` take tens of seconds with a thousand releases, and a no-op helmcr run take one LIST.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from typing import Any

from reconcile.model import Observed, ReleaseKey, ReleaseStatus

DEPLOYED_ONCE = {ReleaseStatus.DEPLOYED, ReleaseStatus.SUPERSEDED}


def observed_releases(records: Iterable[Mapping[str, Any]]) -> list[Observed]:
    """Group release records by release and keep the latest revision of each, noting if any revision deployed."""
    latest: dict[ReleaseKey, tuple[int, ReleaseStatus, Mapping[str, str], float]] = {}
    deployed: set[ReleaseKey] = set()
    for record in records:
        parsed = _parse(record)
        if parsed is None:
            continue
        key, revision, status, labels = parsed
        if status in DEPLOYED_ONCE:
            deployed.add(key)
        if key not in latest or revision > latest[key][0]:
            latest[key] = (revision, status, labels, _modified_at(record))
    return [
        Observed(key, revision, status, labels, ever_deployed=key in deployed, modified_at=modified)
        for key, (revision, status, labels, modified) in sorted(latest.items())
    ]


def _modified_at(record: Mapping[str, Any]) -> float:
    """Helm stamps ``modifiedAt`` (epoch seconds) on each write of a record; older records only have their creation."""
    metadata = record.get("metadata") or {}
    stamp = (metadata.get("labels") or {}).get("modifiedAt", "")
    if stamp.isdigit():
        return float(stamp)
    created = metadata.get("creationTimestamp") or ""
    try:
        return datetime.datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def _parse(record: Mapping[str, Any]) -> tuple[ReleaseKey, int, ReleaseStatus, Mapping[str, str]] | None:
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
    return ReleaseKey(metadata.get("namespace", ""), labels["name"]), revision, status, labels
