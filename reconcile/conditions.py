"""The CR's conditions beside ``Ready``: ``Drifted`` and ``Healthy``, from what the run read of the live objects.

Both describe the release as this run found it, before any change it made: after an install or upgrade they say
so, and the next run judges again (helmcr never waits holding helm's lock). A run that read nothing (drift and
health off, or the step was blocked before reading) keeps what the CR had.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconcile.desired import secrets_of
from reconcile.model import Outcome, Result
from reconcile.redact import redact

LIVE_TYPES = ("Drifted", "Healthy")


def condition(
    current: Mapping[str, Any], kind: str, value: str, reason: str, message: str, generation: int, at: str
) -> dict[str, Any]:
    """A condition as Kubernetes conventions have it: its transition time moves only when its status does."""
    previous = find(current, kind) or {}
    changed = previous.get("status") != value
    return {
        "type": kind,
        "status": value,
        "reason": reason,
        "message": message,
        "observedGeneration": generation,
        "lastTransitionTime": at
        if changed or not previous.get("lastTransitionTime")
        else previous["lastTransitionTime"],
    }


def find(status: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    for entry in status.get("conditions") or []:
        if isinstance(entry, Mapping) and entry.get("type") == kind:
            return entry
    return None


def live_conditions(outcome: Outcome, current: Mapping[str, Any], generation: int, at: str) -> list[dict[str, Any]]:
    live = outcome.step.live
    applied = outcome.result is Result.SUCCEEDED and outcome.step.action.changes_release
    if live is None or not (live.read or applied):
        return [dict(entry) for kind in LIVE_TYPES if (entry := find(current, kind)) is not None]
    later = f"{outcome.message}; judged again on the next run"
    found: list[tuple[str, str, str, str]] = []
    if live.drift_checked:
        if applied:
            found.append(("Drifted", "False", "Applied", later))
        elif live.drift:
            secrets = secrets_of(outcome.step.desired) if outcome.step.desired else []
            found.append(("Drifted", "True", "DriftDetected", redact(live.drift_summary(), secrets)))
        else:
            found.append(("Drifted", "False", "InSync", "every field the release applied holds its value"))
    if live.health:
        if applied:
            found.append(("Healthy", "Unknown", "Applied", later))
        elif live.not_ready:
            found.append(("Healthy", "False", "NotReady", live.health_summary()))
        else:
            found.append(("Healthy", "True", "AllReady", "every object of the release is up"))
    unread = _unchecked(live.unchecked)
    return [
        condition(current, kind, value, reason, message + unread, generation, at)
        for kind, value, reason, message in found
    ]


def _unchecked(problems: tuple[str, ...]) -> str:
    """Objects the run could not read (a LIST its RBAC refuses, a kind not served): said, so that "in sync" and
    "up" are never claimed for them."""
    if not problems:
        return ""
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"; not checked: {problems[0]}{more}"
