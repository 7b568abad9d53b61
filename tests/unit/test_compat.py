"""operator-sdk's status beside helmcr's: the conditions and deployedRelease its users' scripts read."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from reconcile.compat import annotation_warnings, operator_sdk_status
from reconcile.desired import desired_from_resource
from reconcile.model import Action, ChartRef, Outcome, Plan, ReleaseKey, Result, State, Step
from reconcile.plan import KindPlan
from reconcile.settings import Watch
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


def test_operator_sdk_annotations_are_warned_about_once_per_kind_with_what_to_do_instead() -> None:
    watch = Watch(group="cache.example.com", version="v1alpha1", kind="Memcached", chart="/charts/memcached")
    forced = replace(desired(), operator_sdk_annotations=("helm.sdk.operatorframework.io/upgrade-force",))
    steps = tuple(Step(KEY, Action.SKIP, State.IN_SYNC, "", desired=forced) for _ in range(2))
    (warning,) = annotation_warnings([KindPlan(watch, Plan(steps), 1)])
    assert warning == (
        "Memcached.cache.example.com/v1alpha1: 2 CR(s) carry helm.sdk.operatorframework.io/upgrade-force, which "
        "helmcr does not read: helmcr never upgrades with --force (it deletes and recreates objects)"
    )


def test_a_cr_names_the_operator_sdk_annotations_it_carries() -> None:
    watch = Watch(group="cache.example.com", version="v1alpha1", kind="Memcached", chart="/charts/memcached")
    resource = {
        "metadata": {
            "name": "cache",
            "namespace": "team-a",
            "annotations": {"helm.sdk.operatorframework.io/reconcile-period": "5m", "other": "x"},
        },
        "spec": {},
    }
    found = desired_from_resource(resource, watch, ChartRef(source="/charts/memcached", identity="x"))
    assert found.operator_sdk_annotations == ("helm.sdk.operatorframework.io/reconcile-period",)
