"""Assess: what each (desired, observed) pair of one kind is in, as a State with the reason a person reads.

Pure: no I/O, no clock but the inventory's ``now``. The checks run in the order of :data:`reconcile.decide.RULES`
(the first that matches wins); what to do about each state is decided there, not here.

Invariants (property-tested): a release helmcr does not own is never called anything that changes it unless
adoption is on; each release key gets one assessment per CR claiming it, or one for an orphan; when the CR list
was incomplete nothing is called orphaned.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace

from reconcile.desired import secrets_of
from reconcile.livereport import LiveReport
from reconcile.model import Desired, Observed, ReleaseKey, ReleaseStatus, State
from reconcile.redact import redact
from reconcile.settings import DriftMode, FailurePolicy
from reconcile.shards import Shard, shard_identity, shard_of


@dataclass(frozen=True)
class Inventory:
    """Everything observed for one watched kind, as the planner's single input.

    ``owned`` are the releases whose labels say helmcr created them for this kind; ``others`` are releases at a key
    some CR wants that helmcr did not create for this kind. ``present_uids`` holds every CR of the kind that
    exists, selected or not, so a release is only called orphaned when its CR is really gone; ``claimed`` the
    release each CR outside ``desired`` wants, so a release whose CR was deleted and created again (a new UID,
    maybe another shard's) is taken over by that CR's run, never uninstalled by this one.
    """

    desired: tuple[Desired, ...]
    owned: tuple[Observed, ...]
    others: tuple[Observed, ...] = ()
    present_uids: frozenset[str] = field(default_factory=frozenset)
    claimed: frozenset[ReleaseKey] = field(default_factory=frozenset)
    complete: bool = True
    adopt: bool = False
    now: float = 0.0  # epoch seconds; decides which pending releases are stuck
    policy: FailurePolicy = field(default_factory=FailurePolicy)
    live: Mapping[ReleaseKey, LiveReport] = field(default_factory=dict)  # read only when drift or health is on
    drift: DriftMode = DriftMode.OFF
    shard: Shard = field(default_factory=Shard)  # this run's part of the fleet: CRs outside it are not in desired

    @property
    def shard_owned(self) -> int:
        """The owned releases this run's shard answers for: what a percentage uninstall budget is a share of, since
        the uninstalls it counts are this shard's alone."""
        if not self.shard.split:
            return len(self.owned)
        return sum(1 for observed in self.owned if self.shard.owns(_owner_identity(observed)))


@dataclass(frozen=True)
class Assessment:
    key: ReleaseKey
    state: State
    reason: str
    desired: Desired | None = None
    observed: Observed | None = None
    live: LiveReport | None = None


def assess(inventory: Inventory) -> Iterator[Assessment]:
    """One assessment per CR (two CRs claiming one release are each a conflict) and one per orphaned release,
    in release-key order."""
    wanted: dict[ReleaseKey, list[Desired]] = defaultdict(list)
    for desired in inventory.desired:
        wanted[desired.key].append(desired)
    owned = {observed.key: observed for observed in inventory.owned}
    others = {observed.key: observed for observed in inventory.others}
    for key in sorted(wanted.keys() | owned.keys()):
        claimants = wanted.get(key, [])
        if len(claimants) > 1:
            yield from _conflict(key, claimants)
        elif claimants:
            assessment = _assess_desired(claimants[0], owned.get(key), others.get(key), inventory)
            yield replace(assessment, live=inventory.live.get(key))
        else:
            yield _assess_orphan(owned[key], inventory)


def _assess_desired(desired: Desired, owned: Observed | None, other: Observed | None, inv: Inventory) -> Assessment:
    def found(state: State, reason: str, observed: Observed | None = owned) -> Assessment:
        return Assessment(desired.key, state, reason, desired=desired, observed=observed)

    if desired.invalid:
        return found(State.INVALID, desired.invalid)
    if owned is None and other is not None:
        return _assess_unowned(desired, other, inv.adopt)
    if owned is None:
        return found(State.ABSENT, f"release {desired.key} does not exist yet")
    if owned.status.is_pending:
        return _assess_pending(desired, owned, inv)
    if owned.owner_uid and desired.owner.uid and owned.owner_uid != desired.owner.uid:  # no uid: a CR file
        if owned.owner_uid in inv.present_uids:
            return found(
                State.CONFLICT,
                f"release {desired.key} belongs to another {desired.owner.kind} (uid {owned.owner_uid})",
            )
        return found(
            State.RECREATED, f"{desired.owner} was deleted and created again; taking over its release {desired.key}"
        )
    if owned.status in (ReleaseStatus.FAILED, ReleaseStatus.UNKNOWN):
        return found(
            State.FAILED, f"revision {owned.revision} of release {desired.key} is {owned.status}; trying again"
        )
    if desired.deployed_as(owned.digest) and owned.status is ReleaseStatus.DEPLOYED:
        return _assess_live(desired, owned, inv.live.get(desired.key), inv.drift) or found(
            State.IN_SYNC, f"revision {owned.revision} is deployed and in sync"
        )
    if owned.status is not ReleaseStatus.DEPLOYED:
        return found(State.ABSENT, f"release {desired.key} is {owned.status}; installing it again")
    return found(
        State.OUT_OF_SYNC,
        f"the chart or values changed since revision {owned.revision} (digest {_short(owned.digest)} → "
        f"{_short(desired.digest)})",
    )


def _assess_live(desired: Desired, owned: Observed, live: LiveReport | None, mode: DriftMode) -> Assessment | None:
    """An in-sync release whose objects drifted: corrected by upgrading to the same chart and values, unless the
    same drift is back right after a correction (something keeps rewriting it: fighting it would loop)."""
    if live is None or not live.drift or mode is DriftMode.OFF:
        return None
    drift = redact(f"drift from revision {owned.revision}: {live.drift_summary()}", secrets_of(desired))
    if mode is DriftMode.DETECT:
        state, reason = State.DRIFT_REPORTED, f"{drift} (drift mode detect: not corrected)"
    elif desired.status.get("driftCorrected") == live.fingerprint:
        state, reason = (
            State.DRIFT_REPORTED,
            (
                f"{drift}: it came back after helmcr corrected it, so something keeps changing it; not corrected "
                "again (give that field manager to ignoreManagers, or the field to drift.ignore)"
            ),
        )
    else:
        state, reason = State.DRIFTED, f"{drift}; upgrading to restore it"
    return Assessment(desired.key, state, reason, desired=desired, observed=owned)


def _assess_unowned(desired: Desired, other: Observed, adopt: bool) -> Assessment:
    def found(state: State, reason: str) -> Assessment:
        return Assessment(desired.key, state, reason, desired=desired, observed=other)

    origin = "was created by another helmcr kind" if other.managed else "was not created by helmcr"
    if other.status.is_pending:
        return found(State.LOCKED, f"release {desired.key} {origin} and is {other.status}")
    if other.managed or not adopt:
        hint = "" if other.managed else "; set adopt: true for this kind to take it over"
        return found(State.UNMANAGED, f"release {desired.key} already exists and {origin}{hint}")
    return found(State.ADOPTABLE, f"adopting release {desired.key}, which {origin} (adopt: true)")


def _assess_orphan(owned: Observed, inv: Inventory) -> Assessment:
    def found(state: State, reason: str) -> Assessment:
        return Assessment(owned.key, state, reason, observed=owned)

    if owned.owner_uid in inv.present_uids:
        return found(
            State.DESELECTED, f"its CR exists but is outside this run's selection; release {owned.key} is kept"
        )
    if owned.key in inv.claimed:
        return found(
            State.DESELECTED,
            f"its CR is gone, but a CR outside this run's selection or shard (one created again under that name) "
            f"wants release {owned.key}: kept for that CR's run to take over",
        )
    if inv.shard.split and not inv.shard.owns(identity := _owner_identity(owned)):
        return found(
            State.OTHER_SHARD,
            f"its CR is gone, and its owner's UID hashes to shard {shard_of(identity, inv.shard.count)}/"
            f"{inv.shard.count}, not this run's {inv.shard}: that shard uninstalls release {owned.key}",
        )
    if not inv.complete:
        return found(
            State.UNKNOWN_OWNER, "the list of CRs was incomplete, so a missing CR cannot be told from an unlisted one"
        )
    if owned.kept:
        return found(State.KEPT, f"its CR is gone, but release {owned.key} is labelled helmcr.io/keep=true")
    if owned.status.is_pending:
        return _assess_pending(None, owned, inv)
    return found(State.ORPHANED, f"its CR is gone; uninstalling release {owned.key}")


def _assess_pending(desired: Desired | None, owned: Observed, inv: Inventory) -> Assessment:
    """A pending release is someone's operation in progress, unless it has been pending for longer than anyone's
    timeout: then the operation died with its process (OOM, SIGKILL, node lost) and the release is recovered."""
    age = inv.now - owned.modified_at
    pending = f"release {owned.key} is {owned.status} at revision {owned.revision}"
    if not owned.modified_at or age < inv.policy.stuck_after_seconds:
        reason = (
            f"{pending}: another operation is in progress (it counts as stuck after "
            f"{_minutes(inv.policy.stuck_after_seconds)})"
        )
        return Assessment(owned.key, State.LOCKED, reason, desired=desired, observed=owned)
    died = f"{pending} for {_minutes(age)}, so its operation died"
    if desired is None:
        state, recovery = State.STUCK_ORPHAN, "uninstalling it"
    elif owned.status in (ReleaseStatus.PENDING_INSTALL, ReleaseStatus.UNINSTALLING) and not owned.ever_deployed:
        state, recovery = State.STUCK, "uninstalling it and installing again"
    else:
        state, recovery = State.STUCK_UPGRADE, f"marking revision {owned.revision} failed, then upgrading"
    return Assessment(owned.key, state, f"{died}; {recovery}", desired=desired, observed=owned)


def _owner_identity(owned: Observed) -> str:
    owner = owned.owner
    return shard_identity(owner.uid, owner.namespace, owner.name) if owner is not None else ""


def _conflict(key: ReleaseKey, claimants: list[Desired]) -> Iterator[Assessment]:
    names = ", ".join(sorted(str(d.owner) for d in claimants))
    for desired in claimants:
        yield Assessment(key, State.CONFLICT, f"{names} all map to release {key}; give each a distinct name", desired)


def _short(digest: str) -> str:
    return digest[:8] or "none"


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f}m" if seconds >= 120 else f"{seconds:.0f}s"
