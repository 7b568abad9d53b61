"""The vocabulary of a diff: frozen results that the diff functions produce and the renderers read.

Everything here is already redacted: a renderer never sees a secret, so it cannot leak one by mistake.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from reconcile.model import Action, ReleaseKey

Change = Literal["added", "changed", "removed"]
CHANGES: tuple[Change, ...] = ("added", "changed", "removed")


@dataclass(frozen=True)
class ValueChange:
    """One leaf of the values that differs; ``old``/``new`` are None when absent or ``redacted``."""

    path: str  # e.g. image.tag, tolerations[0].key, podAnnotations["prometheus.io/scrape"]
    change: Change
    old: Any
    new: Any
    redacted: bool = False


@dataclass(frozen=True)
class ObjectChange:
    """One Kubernetes object that differs, with a unified diff of its canonical YAML (already redacted)."""

    api_version: str
    kind: str
    namespace: str
    name: str
    change: Change
    diff: str
    source: str = ""  # the template it came from, from helm's "# Source:" comment

    @property
    def label(self) -> str:
        return object_label(self.api_version, self.kind, self.namespace, self.name)


@dataclass(frozen=True)
class ManifestDiff:
    """The changed objects of two manifests, and what could not be read from them (never silently dropped)."""

    objects: tuple[ObjectChange, ...]
    notes: tuple[str, ...]


@dataclass(frozen=True)
class ReleaseDiff:
    """What one step would change in one release: its values and its objects, plus notes for the reader."""

    key: ReleaseKey
    action: Action
    values: tuple[ValueChange, ...]
    objects: tuple[ObjectChange, ...]
    notes: tuple[str, ...] = ()


def object_label(api_version: str, kind: str, namespace: str, name: str) -> str:
    """How an object is named to people, in diff headers and notes alike."""
    return f"{kind} {namespace}/{name} ({api_version})"


def count_changes(changes: Iterable[ValueChange | ObjectChange]) -> dict[Change, int]:
    """Counts by kind of change, every kind present (a stable shape for the JSON form and the tables)."""
    counts = Counter(change.change for change in changes)
    return {name: counts[name] for name in CHANGES}
