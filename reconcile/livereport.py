"""What one run read of a release's live objects: fields that drifted from the release, and objects not up yet.

The planner decides on it (:mod:`reconcile.assess`), the status writer reports it (conditions ``Drifted`` and
``Healthy``); :mod:`reconcile.drift` and :mod:`reconcile.health` make it from the objects.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

MISSING: Any = object()
MAX_SHOWN = 60  # characters of a value a message quotes; longer ones are cut


@dataclass(frozen=True, order=True)
class ObjectRef:
    kind: str
    namespace: str  # "" for a cluster-scoped object
    name: str
    api_version: str = ""

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"


@dataclass(frozen=True)
class Drift:
    """One field (or a whole object, ``pointer`` empty) that is no longer what the release applied."""

    ref: ObjectRef
    pointer: str = ""
    expected: Any = None
    actual: Any = MISSING
    by: tuple[str, ...] = ()  # who owns the field now

    @property
    def missing_object(self) -> bool:
        return not self.pointer

    def describe(self) -> str:
        if self.missing_object:
            return f"{self.ref} is missing"
        who = f" (by {', '.join(self.by)})" if self.by else ""
        if self.ref.kind == "Secret":
            return f"{self.ref} {self.pointer} changed{who}"
        if self.actual is MISSING:
            return f"{self.ref} {self.pointer} was removed{who}"
        return f"{self.ref} {self.pointer}: {shown(self.expected)} → {shown(self.actual)}{who}"


@dataclass(frozen=True)
class LiveReport:
    """One release's objects as this run found them; ``health`` says whether readiness was judged at all."""

    drift: tuple[Drift, ...] = ()
    not_ready: tuple[tuple[ObjectRef, str], ...] = ()
    unchecked: tuple[str, ...] = ()  # why some objects could not be read (forbidden, not served)
    drift_checked: bool = False
    health: bool = False
    read: bool = True  # False: no deployed release to read (yet); only a change this run has anything to say

    @property
    def fingerprint(self) -> str:
        """Names the drift found, to tell drift that came back right after it was corrected from new drift."""
        text = "\n".join(sorted(d.describe() for d in self.drift))
        return hashlib.sha256(text.encode()).hexdigest()[:16] if text else ""

    def drift_summary(self, limit: int = 3) -> str:
        """The first few drifted fields in one line, and how many more."""
        described = [d.describe() for d in self.drift[:limit]]
        more = f" and {len(self.drift) - limit} more" if len(self.drift) > limit else ""
        return "; ".join(described) + more

    def health_summary(self, limit: int = 3) -> str:
        described = [f"{ref}: {why}" for ref, why in self.not_ready[:limit]]
        more = f" and {len(self.not_ready) - limit} more" if len(self.not_ready) > limit else ""
        return "; ".join(described) + more


def shown(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= MAX_SHOWN else f"{text[: MAX_SHOWN - 1]}…"
