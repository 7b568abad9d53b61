"""An in-sync release whose objects drifted: upgraded (correct), reported (detect), and never fought in a loop."""

from __future__ import annotations

from reconcile.assess import Inventory
from reconcile.conditions import live_conditions
from reconcile.livereport import Drift, LiveReport, ObjectRef
from reconcile.model import Action, Outcome, ReleaseKey, Result, State, Step
from reconcile.plan import plan
from reconcile.settings import DriftMode
from tests.unit.factories import desired, observed

KEY = ReleaseKey("team-a", "cache")
SCALED = LiveReport(drift=(Drift(ObjectRef("StatefulSet", "team-a", "cache"), "/spec/replicas", 1, 2, ("kubectl",)),))


def step(mode: DriftMode, report: LiveReport | None, digest: str = "d1", status: dict[str, str] | None = None) -> Step:
    inventory = Inventory(
        desired=(desired(status=status),),
        owned=(observed(digest=digest),),
        live={KEY: report} if report else {},
        drift=mode,
    )
    (only,) = plan(inventory).steps
    return only


def test_drift_is_corrected_by_an_upgrade_that_names_the_field() -> None:
    corrected = step(DriftMode.CORRECT, SCALED)
    assert (corrected.state, corrected.action) == (State.DRIFTED, Action.UPGRADE)
    assert "StatefulSet team-a/cache /spec/replicas: 1 → 2 (by kubectl)" in corrected.reason
    assert corrected.live is SCALED, "the step carries what was read, for the status writer"


def test_drift_is_only_reported_in_detect_mode_and_nothing_is_read_when_off() -> None:
    reported = step(DriftMode.DETECT, SCALED)
    assert (reported.state, reported.action) == (State.DRIFT_REPORTED, Action.SKIP)
    assert step(DriftMode.OFF, None).state is State.IN_SYNC


def test_the_same_drift_back_right_after_a_correction_is_reported_not_fought_again() -> None:
    again = step(DriftMode.CORRECT, SCALED, status={"driftCorrected": SCALED.fingerprint})
    assert (again.state, again.action) == (State.DRIFT_REPORTED, Action.SKIP)
    assert "came back after helmcr corrected it" in again.reason
    other = LiveReport(drift=(Drift(ObjectRef("Service", "team-a", "cache")),))
    assert step(DriftMode.CORRECT, other, status={"driftCorrected": SCALED.fingerprint}).state is State.DRIFTED


def test_a_changed_spec_is_an_upgrade_for_its_own_reason_drift_or_not() -> None:
    changed = step(DriftMode.CORRECT, SCALED, digest="old")
    assert (changed.state, changed.action) == (State.OUT_OF_SYNC, Action.UPGRADE)
    assert changed.live is SCALED


def test_objects_the_run_could_not_read_are_named_in_the_conditions() -> None:
    refused = LiveReport(unchecked=("cannot list statefulsets in team-a: forbidden",), drift_checked=True, health=True)
    skipped = Outcome(step(DriftMode.DETECT, refused), Result.SKIPPED, message="in sync")
    found = {c["type"]: c["message"] for c in live_conditions(skipped, {}, 1, "2026-12-02T10:00:00Z")}
    assert found["Drifted"].endswith("; not checked: cannot list statefulsets in team-a: forbidden")
    assert found["Healthy"].endswith("; not checked: cannot list statefulsets in team-a: forbidden")
