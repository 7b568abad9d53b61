"""The vocabulary of one run: frozen values passed between the pipeline's stages, and nothing else.

Names say which side a value comes from: *desired* is what a custom resource asks for, *observed* is what Helm's
release records say. The planner turns pairs of them into actions; only the adapters ever touch the cluster.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reconcile.livereport import LiveReport


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
        return f"{self.kind}/{self.namespace}/{self.name}" if self.namespace else f"{self.kind}/{self.name}"


@dataclass(frozen=True)
class ChartRef:
    """Where a chart comes from, as helm will be given it, and what identifies its content for the digest."""

    source: str  # a local path, a repository chart name, or an oci:// reference
    identity: str  # content hash for local charts, "repo|name|version" for remote ones
    name: str = ""
    version: str = ""
    repo_url: str = ""
    pinned: bool = False  # a remote chart: helm is given --version
    secret_paths: frozenset[str] = frozenset()  # value paths its values.schema.json marks writeOnly or password
    tpl: bool = True  # it may pass values to tpl (so a "{{" in a value runs); unknown, so yes, for remote charts
    # the kinds its own crds/ declare, as (apiVersion, kind) → namespaced: not served before its first install
    crd_kinds: Mapping[tuple[str, str], bool] = field(default_factory=dict, hash=False, compare=False)


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
    unkeyed_digest: str = ""  # with a digest key: the digest as it was before keying (a release with it is in sync)
    operator_sdk_annotations: tuple[str, ...] = ()  # helm.sdk.operatorframework.io/* it carries: not read, warned
    fleet_digest: str = ""  # what every CR of the kind shares: chart, overrideValues, flags (reconcile.rollout)
    labels: Mapping[str, str] = field(default_factory=dict)  # the CR's, for a rollout's canary selector

    @property
    def failures(self) -> int:
        """Consecutive failed attempts its status records; anything else there (a CRD without a status subresource
        lets a CR's author write status too) counts as none."""
        value = self.status.get("failures")
        return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0

    def deployed_as(self, digest: str) -> bool:
        """Whether a release labelled ``digest`` deploys exactly this; turning the digest key on upgrades nothing,
        and neither does the keyed digest's older form, the HMAC without its key's id."""
        _, _, bare_hmac = self.digest.rpartition(".")
        return bool(digest) and digest in (self.digest, self.unkeyed_digest, bare_hmac)


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
    """The latest revision of one Helm release, decoded once from its record's labels (never from its payload);
    ``owner`` is the CR helmcr created the release for, or None when helmcr did not create it."""

    key: ReleaseKey
    revision: int
    status: ReleaseStatus
    owner: ResourceRef | None = None
    digest: str = ""
    fleet_digest: str = ""  # the kind's chart and overrides it was deployed with ("" before helmcr labelled it)
    kept: bool = False  # labelled helmcr.io/keep=true: outlives its CR
    by_rollout: bool = False  # labelled helmcr.io/rollout=true: deployed by its kind's rollout (reconcile.rollout)
    ever_deployed: bool = True
    modified_at: float = 0.0  # epoch seconds the latest record was written; tells a stuck operation from a slow one

    @property
    def managed(self) -> bool:
        return self.owner is not None

    @property
    def owner_uid(self) -> str:
        return self.owner.uid if self.owner is not None else ""


class Action(enum.StrEnum):
    """What a step does; the executor has one way of doing each, and never looks at why (the state)."""

    INSTALL = "install"
    UPGRADE = "upgrade"
    UNINSTALL = "uninstall"
    UNLOCK_AND_UPGRADE = "unlock-and-upgrade"  # mark a dead pending-* record failed, then upgrade
    REINSTALL = "reinstall"  # mark a dead, never-deployed release failed, uninstall it, install afresh
    UNLOCK_AND_UNINSTALL = "unlock-and-uninstall"  # mark a dead pending-* record failed, then uninstall
    ADOPT = "adopt"  # label a release helmcr did not create as its own; upgrade it only if that would change it
    SKIP = "skip"  # nothing to do: converged, or not helmcr's to touch
    QUEUE = "queue"  # nothing this run: the change waits its turn (a rollout's wave, a namespace's budget)
    WAIT = "wait"  # nothing this run: a failed attempt waits out its backoff
    BLOCKED = "blocked"  # cannot be done until someone changes something
    HOLD = "hold"  # would change the release, but this run is not allowed to (an unreviewed step)

    @property
    def changes_release(self) -> bool:
        return self in CHANGE_ENDS_IN

    @property
    def ends_in(self) -> Action:
        """The plain change an action amounts to (install, upgrade or uninstall), for counts and reasons."""
        return CHANGE_ENDS_IN.get(self, self)


CHANGE_ENDS_IN = {
    Action.INSTALL: Action.INSTALL,
    Action.UPGRADE: Action.UPGRADE,
    Action.UNINSTALL: Action.UNINSTALL,
    Action.UNLOCK_AND_UPGRADE: Action.UPGRADE,
    Action.REINSTALL: Action.INSTALL,
    Action.UNLOCK_AND_UNINSTALL: Action.UNINSTALL,
    Action.ADOPT: Action.UPGRADE,
}


class State(enum.StrEnum):
    """What the planner concluded about a pair; :data:`reconcile.decide.RULES` maps each to exactly one action."""

    ABSENT = "absent"
    IN_SYNC = "in-sync"
    OUT_OF_SYNC = "out-of-sync"
    RECREATED = "recreated"
    FAILED = "failed"
    ORPHANED = "orphaned"
    DESELECTED = "deselected"
    OTHER_SHARD = "other-shard"
    UNMANAGED = "unmanaged"
    ADOPTABLE = "adoptable"
    CONFLICT = "conflict"
    LOCKED = "locked"
    INVALID = "invalid"
    UNKNOWN_OWNER = "unknown-owner"
    STUCK = "stuck"
    STUCK_UPGRADE = "stuck-upgrade"
    STUCK_ORPHAN = "stuck-orphan"
    BACKOFF = "backoff"
    KEPT = "kept"
    OVER_BUDGET = "over-budget"
    UNREVIEWED = "unreviewed"
    DRIFTED = "drifted"
    DRIFT_REPORTED = "drift-reported"
    ROLLOUT_QUEUED = "rollout-queued"
    ROLLOUT_HALTED = "rollout-halted"
    CHURNING = "churning"
    NAMESPACE_BUDGET = "namespace-budget"


@dataclass(frozen=True)
class Step:
    """One decided action for one release, with the reason a human reads in the table and in the CR's status."""

    key: ReleaseKey
    action: Action
    state: State
    reason: str
    desired: Desired | None = None
    observed: Observed | None = None
    live: LiveReport | None = None  # what this run read of the release's objects (drift, health); None: not read
    rollout: bool = False  # goes for its kind's rollout: labelled so, and its failure counts against the rollout

    @property
    def owner(self) -> ResourceRef | None:
        if self.desired is not None:
            return self.desired.owner
        return self.observed.owner if self.observed is not None else None


@dataclass(frozen=True)
class Plan:
    """Every step of a run, in the order they are reported; at most one step per release key."""

    steps: tuple[Step, ...]

    def count(self, action: Action) -> int:
        """Steps that amount to ``action`` (an unlock-and-uninstall is an uninstall)."""
        return sum(1 for step in self.steps if step.action.ends_in is action)

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
    error: str = ""  # the failure's category (reconcile.errors), for reports and later decisions

    @property
    def ok(self) -> bool:
        return self.result in {Result.SUCCEEDED, Result.SKIPPED}


UNCHANGED_RESULTS = {
    Action.SKIP: Result.SKIPPED,
    Action.WAIT: Result.SKIPPED,
    Action.QUEUE: Result.SKIPPED,
    Action.BLOCKED: Result.BLOCKED,
    Action.HOLD: Result.NOT_STARTED,
}


def unchanged_outcome(step: Step) -> Outcome:
    """A step that changes nothing this run (a dry run's changes too: they are reported as not started)."""
    return Outcome(step, UNCHANGED_RESULTS.get(step.action, Result.NOT_STARTED), message=step.reason)


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
