"""The CR's record of its release's recent upgrades (``status.upgrades``): what the churn guard counts.

In the CR's status, not in memory, since each run is a new process; only the last 24 hours, and only as many entries
as the kind's limits can count, so the status stays small.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconcile.clock import parse_time
from reconcile.settings import FailurePolicy

DAY_SECONDS = 86400.0


def recent_upgrades(status: Mapping[str, Any], now: float) -> list[Mapping[str, Any]]:
    """The entries of the last 24 hours; anything malformed (a CR's author may write status without a status
    subresource) counts as nothing."""
    entries = status.get("upgrades")
    if not isinstance(entries, list):
        return []
    return [
        entry
        for entry in entries
        if isinstance(entry, Mapping) and now - parse_time(str(entry.get("time") or "")) < DAY_SECONDS
    ]


def with_upgrade(status: Mapping[str, Any], at: str, digest: str, policy: FailurePolicy) -> list[dict[str, Any]]:
    """The record after one more upgrade at ``at`` to ``digest``."""
    kept = max(policy.max_upgrades_per_day, policy.max_repeats_per_day)
    entries = [dict(entry) for entry in recent_upgrades(status, parse_time(at))] + [{"time": at, "digest": digest}]
    return entries[-kept:] if kept else []
