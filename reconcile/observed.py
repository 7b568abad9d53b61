"""Helm release records (Secrets, metadata only) become one Observed per release: its latest revision.

Helm writes one Secret per revision, labelled ``owner=helm``, ``name``, ``status`` and ``version``, and copies a
release's own labels (``--labels``) onto it. Reading those labels is enough to know a release's state and whether
helmcr owns it, so the payload (gzipped, base64, often megabytes) is never fetched or decoded; that is what makes
``helm list`` take tens of seconds with a thousand releases, and a no-op helmcr run take one LIST.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from reconcile.model import Observed, ReleaseKey, ReleaseStatus

DEPLOYED_ONCE = {ReleaseStatus.DEPLOYED, ReleaseStatus.SUPERSEDED}


def observed_releases(records: Iterable[Mapping[str, Any]]) -> list[Observed]:
    """Group release records by release and keep the latest revision of each, noting if any revision deployed."""
    latest: dict[ReleaseKey, tuple[int, ReleaseStatus, Mapping[str, str]]] = {}
    deployed: set[ReleaseKey] = set()
    for record in records:
        parsed = _parse(record)
        if parsed is None:
            continue
        key, revision, status, labels = parsed
        if status in DEPLOYED_ONCE:
            deployed.add(key)
        if key not in latest or revision > latest[key][0]:
            latest[key] = (revision, status, labels)
    return [
        Observed(key=key, revision=revision, status=status, labels=labels, ever_deployed=key in deployed)
        for key, (revision, status, labels) in sorted(latest.items())
    ]


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
