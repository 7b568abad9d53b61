"""The vocabulary of one run: frozen values passed between the pipeline's stages, and nothing else.

Names say which side a value comes from: *desired* is what a custom resource asks for, *observed* is what Helm's
release records say. The planner turns pairs of them into actions; only the adapters ever touch the cluster.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconcile.labels import (
    LABEL_DIGEST,
    LABEL_KEEP,
    LABEL_MANAGED_BY,
    LABEL_OWNER_GROUP,
    LABEL_OWNER_KIND,
    LABEL_OWNER_NAME,
    LABEL_OWNER_NAMESPACE,
    LABEL_OWNER_UID,
    MANAGER,
)


@dataclass(frozen=True, order=True)
class ReleaseKey:
    """A Helm release is identified by its namespace and name; two CRs mapping to one key are a conflict."""

    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, order=True)
class ResourceRef:
    """The custom resource a release belongs to; uid tells a recreated CR from the original."""

    group: str
    kind: str
    namespace: str  # "" for a cluster-scoped kind
    name: str
    uid: str = ""

    def __str__(self) -> str:
        scope = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind}/{scope}{self.name}"


@dataclass(frozen=True)
class ChartRef:
    """Where a chart comes from, as helm will be given it, and what identifies its content for the digest."""

    source: str  # a local path, a repository chart name, or an oci:// reference
    identity: str  # content hash for local charts, "repo|name|version" for remote ones
    name: str = ""
    version: str = ""
    repo_url: str = ""
    pinned: bool = False  # a remote chart: helm is given --version

    @property
    def is_remote(self) -> bool:
        return bool(self.repo_url) or self.source.startswith("oci://")


@dataclass(frozen=True)
class HelmOptions:
    """Per-kind settings that change how helm runs; the rendering ones are part of the digest."""

    timeout: str = "5m0s"
    wait: bool = False
    history_max: int = 10
    disable_hooks: bool = False
    rollback_on_failure: bool = False


@dataclass(frozen=True)
class FailurePolicy:
    """When a pending release counts as stuck, and how long a failed attempt waits before the next one."""

    stuck_after_seconds: float = 900.0
    backoff_seconds: float = 60.0
    max_backoff_seconds: float = 3600.0

    def backoff(self, failures: int) -> float:
        """Exponential: the base after the 1st failure, twice it after the 2nd, four times after the 3rd; capped."""
        return float(min(self.max_backoff_seconds, self.backoff_seconds * 2 ** max(0, failures - 1)))


@dataclass(frozen=True)
class Desired:
    """What one custom resource asks for. ``invalid`` holds why it cannot be acted on; then values may be empty."""

    owner: ResourceRef
    key: ReleaseKey
    chart: ChartRef
    values: Mapping[str, Any]
    digest: str
    generation: int
    status: Mapping[str, Any]
    invalid: str = ""
    keep: bool = False  # annotation helmcr.io/keep: carried to the release as a label, so it outlives the CR
    retry_request: str = ""  # annotation helmcr.io/retry: a new value asks for an attempt despite the backoff


class ReleaseStatus(enum.StrEnum):
    """Helm's own release states, read from the ``status`` label of a release record."""

    DEPLOYED = "deployed"
    FAILED = "failed"
    PENDING_INSTALL = "pending-install"
    PENDING_UPGRADE = "pending-upgrade"
    PENDING_ROLLBACK = "pending-rollback"
    SUPERSEDED = "superseded"
    UNINSTALLING = "uninstalling"
    UNINSTALLED = "uninstalled"
    UNKNOWN = "unknown"

    @property
    def is_pending(self) -> bool:
        return self in {self.PENDING_INSTALL, self.PENDING_UPGRADE, self.PENDING_ROLLBACK, self.UNINSTALLING}


@dataclass(frozen=True)
class Observed:
    """The latest revision of one Helm release, from its record's labels alone (the payload is never decoded)."""

    key: ReleaseKey
    revision: int
    status: ReleaseStatus
    labels: Mapping[str, str]
    ever_deployed: bool = True
    modified_at: float = 0.0  # epoch seconds the latest record was written; tells a stuck operation from a slow one

    @property
    def managed(self) -> bool:
        return self.labels.get(LABEL_MANAGED_BY) == MANAGER

    @property
    def owner_uid(self) -> str:
        return self.labels.get(LABEL_OWNER_UID, "")

    @property
    def digest(self) -> str:
        return self.labels.get(LABEL_DIGEST, "")

    @property
    def owner(self) -> ResourceRef:
        return owner_from_labels(self.labels)

    @property
    def kept(self) -> bool:
        return self.labels.get(LABEL_KEEP) == "true"


class Action(enum.StrEnum):
    INSTALL = "install"
    UPGRADE = "upgrade"
    UNINSTALL = "uninstall"
    SKIP = "skip"
    BLOCKED = "blocked"

    @property
    def changes_release(self) -> bool:
        return self in {self.INSTALL, self.UPGRADE, self.UNINSTALL}


class State(enum.StrEnum):
    """What the planner concluded about a pair; each maps to exactly one action (see docs/planner.md)."""

    ABSENT = "absent"
    IN_SYNC = "in-sync"
    OUT_OF_SYNC = "out-of-sync"
    RECREATED = "recreated"
    FAILED = "failed"
    ORPHANED = "orphaned"
    DESELECTED = "deselected"
    UNMANAGED = "unmanaged"
    CONFLICT = "conflict"
    LOCKED = "locked"
    INVALID = "invalid"
    UNKNOWN_OWNER = "unknown-owner"
    STUCK = "stuck"
    BACKOFF = "backoff"
    KEPT = "kept"
    OVER_BUDGET = "over-budget"


@dataclass(frozen=True)
class Step:
    """One decided action for one release, with the reason a human reads in the table and in the CR's status."""

    key: ReleaseKey
    action: Action
    state: State
    reason: str
    desired: Desired | None = None
    observed: Observed | None = None

    @property
    def owner(self) -> ResourceRef | None:
        if self.desired is not None:
            return self.desired.owner
        return owner_from_labels(self.observed.labels) if self.observed is not None else None


@dataclass(frozen=True)
class Plan:
    """Every step of a run, in the order they are reported; at most one step per release key."""

    steps: tuple[Step, ...]

    def count(self, action: Action) -> int:
        return sum(1 for step in self.steps if step.action is action)

    @property
    def changes(self) -> tuple[Step, ...]:
        return tuple(step for step in self.steps if step.action.changes_release)


class Result(enum.StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    BLOCKED = "blocked"
    NOT_STARTED = "not-started"


@dataclass(frozen=True)
class Outcome:
    """What happened when a step was carried out (or why it was not)."""

    step: Step
    result: Result
    message: str = ""
    revision: int = 0
    seconds: float = 0.0
    finished_at: str = ""

    @property
    def ok(self) -> bool:
        return self.result in {Result.SUCCEEDED, Result.SKIPPED}


@dataclass(frozen=True)
class KindError:
    """A whole kind could not be synced this run (its chart, or its LIST); nothing of it was changed."""

    kind: str
    message: str
    cluster: bool  # the API server was unreachable or refused: exit code 4 rather than 1

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


@dataclass(frozen=True)
class RunSummary:
    """The outcomes of one pass over every kind, the kinds that could not be synced, and status writes that failed."""

    outcomes: tuple[Outcome, ...] = ()
    kind_errors: tuple[KindError, ...] = ()
    status_errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def failed(self) -> tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if not o.ok)


def owner_from_labels(labels: Mapping[str, str]) -> ResourceRef:
    """The CR a managed release names as its owner (informative only: long names are stored shortened)."""
    return ResourceRef(
        group=labels.get(LABEL_OWNER_GROUP, ""),
        kind=labels.get(LABEL_OWNER_KIND, ""),
        namespace=labels.get(LABEL_OWNER_NAMESPACE, ""),
        name=labels.get(LABEL_OWNER_NAME, ""),
        uid=labels.get(LABEL_OWNER_UID, ""),
    )
