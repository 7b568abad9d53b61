"""operator-sdk's Helm operator status, kept beside helmcr's own for a kind in operator-sdk compatibility mode.

A team migrating from operator-sdk has scripts, dashboards and ``kubectl wait --for=condition=Deployed`` that read
its status: conditions ``Initialized``, ``Deployed``, ``ReleaseFailed`` and ``Irreconcilable`` with its reasons
(``InstallSuccessful``, ``UpgradeSuccessful``, ``InstallError``, ``UpgradeError``, ``ReconcileError``), and
``status.deployedRelease.name``. They are written from the same outcome as helmcr's ``Ready``. operator-sdk also
stores the whole manifest in ``deployedRelease.manifest``; helmcr does not (it may hold secrets, and it is in the
release record already).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from reconcile.conditions import condition, find
from reconcile.labels import OPERATOR_SDK_PREFIX
from reconcile.model import Action, Outcome, Result
from reconcile.plan import KindPlan

SUCCEEDED = {Action.INSTALL: "InstallSuccessful", Action.UPGRADE: "UpgradeSuccessful"}
FAILED = {Action.INSTALL: "InstallError", Action.UPGRADE: "UpgradeError", Action.UNINSTALL: "UninstallError"}
TYPES = ("Initialized", "Deployed", "ReleaseFailed", "Irreconcilable")
# operator-sdk's per-CR annotations, and what a one-shot run offers instead
ANNOTATION_ADVICE = {
    "upgrade-force": "helmcr never upgrades with --force (it deletes and recreates objects)",
    "uninstall-wait": "set wait: true on the kind to wait for an uninstall's objects to go",
    "rollback-force": "helmcr does not roll back by itself; rollbackOnFailure: true rolls a failed upgrade back",
    "reconcile-period": "the CronJob's schedule says how often every CR is reconciled",
}


def operator_sdk_status(outcome: Outcome, current: Mapping[str, Any], generation: int, at: str) -> dict[str, Any]:
    """The conditions (in operator-sdk's order) and ``deployedRelease`` for this outcome."""
    action = outcome.step.action.ends_in
    entries: dict[str, tuple[str, str, str]] = {"Initialized": ("True", "", "")}
    deployed = find(current, "Deployed")
    if deployed is not None:
        entries["Deployed"] = (str(deployed.get("status")), str(deployed.get("reason")), str(deployed.get("message")))
    if outcome.result is Result.SUCCEEDED:
        entries["Deployed"] = ("True", SUCCEEDED.get(action, "UpgradeSuccessful"), outcome.message)
    elif outcome.result is Result.SKIPPED and "Deployed" not in entries and outcome.step.observed is not None:
        entries["Deployed"] = ("True", "InstallSuccessful", outcome.message)  # adopted or deployed before
    elif outcome.result is Result.FAILED:
        entries["ReleaseFailed"] = ("True", FAILED.get(action, "UpgradeError"), outcome.message)
    elif outcome.result is Result.BLOCKED:
        entries["Irreconcilable"] = ("True", "ReconcileError", outcome.message)
    status: dict[str, Any] = {
        "conditions": [condition(current, kind, *entries[kind], generation, at) for kind in TYPES if kind in entries]
    }
    if "Deployed" in entries and entries["Deployed"][0] == "True":
        status["deployedRelease"] = {"name": outcome.step.key.name}
    return status


def annotation_warnings(plans: Sequence[KindPlan]) -> list[str]:
    """One line per kind and annotation of operator-sdk's that its CRs carry: accepted, not read, and why."""
    warnings = []
    for kind in plans:
        carried = Counter(a for s in kind.plan.steps if s.desired for a in s.desired.operator_sdk_annotations)
        for annotation, count in sorted(carried.items()):
            name = annotation.removeprefix(OPERATOR_SDK_PREFIX)
            advice = ANNOTATION_ADVICE.get(name, "helmcr does not know it")
            warnings.append(f"{kind.watch}: {count} CR(s) carry {annotation}, which helmcr does not read: {advice}")
    return warnings
