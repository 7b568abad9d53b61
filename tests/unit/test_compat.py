"""operator-sdk's status beside helmcr's: the conditions and deployedRelease its users' scripts read."""

from __future__ import annotations

from typing import Any

from reconcile.compat import operator_sdk_status
from reconcile.model import Action, Outcome, ReleaseKey, Result, State, Step
from tests.unit.factories import desired, observed

KEY = ReleaseKey("team-a", "cache")
AT = "2026-12-02T10:00:00Z"


def outcome(action: Action, result: Result, with_release: bool = True) -> Outcome:
    step = Step(KEY, action, State.ABSENT, "why", desired=desired(), observed=observed() if with_release else None)
    return Outcome(step, result, message=f"{action} {result}")


def types(status: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}


def test_an_install_is_initialized_and_deployed_with_operator_sdks_reasons() -> None:
    status = operator_sdk_status(outcome(Action.INSTALL, Result.SUCCEEDED, False), {}, 1, AT)
    assert types(status) == {"Initialized": ("True", ""), "Deployed": ("True", "InstallSuccessful")}
    assert status["deployedRelease"] == {"name": "cache"}


def test_a_failed_upgrade_keeps_deployed_and_adds_release_failed_which_a_success_clears() -> None:
    installed = operator_sdk_status(outcome(Action.INSTALL, Result.SUCCEEDED), {}, 1, AT)
    failed = operator_sdk_status(outcome(Action.UPGRADE, Result.FAILED), installed, 2, AT)
    assert types(failed) == {
        "Initialized": ("True", ""),
        "Deployed": ("True", "InstallSuccessful"),
        "ReleaseFailed": ("True", "UpgradeError"),
    }
    upgraded = operator_sdk_status(outcome(Action.UPGRADE, Result.SUCCEEDED), failed, 3, AT)
    assert types(upgraded) == {"Initialized": ("True", ""), "Deployed": ("True", "UpgradeSuccessful")}


def test_a_blocked_cr_is_irreconcilable_and_has_no_deployed_release() -> None:
    status = operator_sdk_status(outcome(Action.BLOCKED, Result.BLOCKED, False), {}, 1, AT)
    assert types(status)["Irreconcilable"] == ("True", "ReconcileError") and "deployedRelease" not in status


def test_an_adopted_release_in_sync_counts_as_deployed() -> None:
    status = operator_sdk_status(outcome(Action.SKIP, Result.SKIPPED), {}, 1, AT)
    assert types(status)["Deployed"] == ("True", "InstallSuccessful")
