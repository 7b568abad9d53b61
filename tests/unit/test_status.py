"""The status a CR gets from an outcome: what kubectl shows, and that an unchanged run writes nothing."""

from __future__ import annotations

from reconcile.model import Action, Outcome, Result, State, Step
from reconcile.settings import FailurePolicy
from reconcile.status import new_status
from tests.unit.factories import desired, observed

AT, LATER = "2026-11-24T10:00:00Z", "2026-11-24T11:00:00Z"
POLICY = FailurePolicy(backoff_seconds=60, max_backoff_seconds=3600)


def outcome(
    action: Action, result: Result, *, status: dict[str, object] | None = None, revision: int = 0, message: str = "m"
) -> Outcome:
    wanted = desired(status=status, generation=3)
    step = Step(wanted.key, action, State.ABSENT, "reason", desired=wanted, observed=observed(revision=revision or 1))
    return Outcome(step, result, message=message, revision=revision, finished_at=AT)


def test_success_sets_ready_revision_chart_and_digest() -> None:
    status = new_status(outcome(Action.INSTALL, Result.SUCCEEDED, revision=1, message="installed"), AT, POLICY)
    assert status is not None
    assert {
        k: status[k]
        for k in ("revision", "chart", "chartVersion", "digest", "observedGeneration", "releaseName", "lastAppliedTime")
    } == {
        "revision": 1,
        "chart": "memcached",
        "chartVersion": "0.1.0",
        "digest": "d1",
        "observedGeneration": 3,
        "releaseName": "cache",
        "lastAppliedTime": AT,
    }
    (ready,) = status["conditions"]
    assert (ready["status"], ready["reason"], ready["lastTransitionTime"]) == ("True", "InstallSucceeded", AT)


def test_an_in_sync_run_reproduces_the_status_exactly_so_nothing_is_written() -> None:
    installed = new_status(outcome(Action.INSTALL, Result.SUCCEEDED, revision=1, message="installed"), AT, POLICY)
    assert installed is not None
    again = new_status(outcome(Action.SKIP, Result.SKIPPED, status=installed, message="in sync"), LATER, POLICY)
    assert again == installed


def test_failure_keeps_the_deployed_revision_and_flips_ready_with_a_new_transition_time() -> None:
    installed = new_status(outcome(Action.INSTALL, Result.SUCCEEDED, revision=1), AT, POLICY)
    assert installed is not None
    failed = new_status(outcome(Action.UPGRADE, Result.FAILED, status=installed, message="boom"), LATER, POLICY)
    assert failed is not None
    (ready,) = failed["conditions"]
    assert (ready["status"], ready["reason"], ready["message"], ready["lastTransitionTime"]) == (
        "False",
        "UpgradeFailed",
        "boom",
        LATER,
    )
    assert (failed["revision"], failed["digest"], failed["lastAppliedTime"]) == (1, "d1", AT)


def test_blocked_is_stable_across_runs() -> None:
    first = new_status(outcome(Action.BLOCKED, Result.BLOCKED, message="conflict"), AT, POLICY)
    assert first is not None
    assert new_status(outcome(Action.BLOCKED, Result.BLOCKED, status=first, message="conflict"), LATER, POLICY) == first


def test_an_uninstall_has_no_cr_to_tell() -> None:
    step = Step(observed().key, Action.UNINSTALL, State.ORPHANED, "gone", observed=observed())
    assert new_status(Outcome(step, Result.SUCCEEDED), AT, POLICY) is None


def test_failures_count_up_with_exponential_next_attempt_and_success_clears_them() -> None:
    first = new_status(outcome(Action.UPGRADE, Result.FAILED, message="boom"), AT, POLICY)
    assert first is not None
    assert (first["failures"], first["failedDigest"], first["nextAttemptTime"]) == (1, "d1", "2026-11-24T10:01:00Z")
    second = new_status(outcome(Action.UPGRADE, Result.FAILED, status=first, message="boom"), LATER, POLICY)
    assert second is not None
    assert (second["failures"], second["nextAttemptTime"]) == (2, "2026-11-24T11:02:00Z")
    healed = new_status(outcome(Action.UPGRADE, Result.SUCCEEDED, status=second, revision=2), LATER, POLICY)
    assert healed is not None and not {"failures", "failedDigest", "nextAttemptTime"} & healed.keys()


def test_nothing_attempted_means_no_new_status() -> None:
    assert new_status(outcome(Action.UPGRADE, Result.NOT_STARTED), AT, POLICY) is None


def test_a_hand_written_failure_count_is_no_traceback() -> None:
    """A CRD without a status subresource lets a CR's author write status: "abc" failures count as none."""
    written: dict[str, object] = {"failures": "abc", "failedDigest": "d1", "nextAttemptTime": "never"}
    status = new_status(outcome(Action.UPGRADE, Result.FAILED, status=written), AT, POLICY)
    assert status is not None and status["failures"] == 1
