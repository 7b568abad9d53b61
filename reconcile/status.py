"""The single writer of CR status and events, from outcomes.

Status is what makes a one-shot tool feel like an operator: ``kubectl get`` shows Ready and the revision, and
``kubectl wait --for=condition=Ready`` works though nothing runs in between. It is written only when it changes,
so a run where nothing changed makes no write at all; timestamps and messages of an unchanged condition are kept.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Mapping
from typing import Any

from reconcile.adapters.kube import EVENTS, METADATA_LIST, Kube, ResourceType
from reconcile.clock import format_time, now, parse_time
from reconcile.compat import operator_sdk_status
from reconcile.conditions import condition, find, live_conditions
from reconcile.errors import KubeError, KubeForbidden, KubeNotFound
from reconcile.model import Action, Desired, Outcome, Result
from reconcile.settings import FailurePolicy
from reconcile.upgrades import with_upgrade

log = logging.getLogger(__name__)

SUCCESS_REASONS = {Action.INSTALL: "InstallSucceeded", Action.UPGRADE: "UpgradeSucceeded"}
FAILURE_REASONS = {
    Action.INSTALL: "InstallFailed",
    Action.UPGRADE: "UpgradeFailed",
    Action.UNINSTALL: "UninstallFailed",
}


FAILURE_FIELDS = ("failures", "failedDigest", "nextAttemptTime", "failedRollout")
WARNING_REASONS = frozenset({"DriftDetected", "NotReady"})


def new_status(outcome: Outcome, at: str, policy: FailurePolicy, operator_sdk: bool = False) -> dict[str, Any] | None:
    """The status the owning CR should have after this outcome, or None when it should not change (no CR to
    tell, or nothing was attempted: a dry run, an interrupted run, a step waiting out its backoff)."""
    step, desired = outcome.step, outcome.step.desired
    if desired is None or outcome.result is Result.NOT_STARTED:
        return None
    current = dict(desired.status)
    if step.action in (Action.WAIT, Action.QUEUE):
        return {**current, "message": step.reason}
    status: dict[str, Any] = {
        **current,
        "observedGeneration": desired.generation,
        "releaseName": step.key.name,
        "releaseNamespace": step.key.namespace,
    }
    if outcome.result in (Result.SUCCEEDED, Result.SKIPPED):
        for name in FAILURE_FIELDS:
            status.pop(name, None)
        status.update(
            digest=desired.digest,
            chart=desired.chart.name,
            chartVersion=desired.chart.version,
            revision=outcome.revision or (step.observed.revision if step.observed else 0),
        )
    if outcome.result is Result.SUCCEEDED:
        status["lastAppliedTime"] = outcome.finished_at or at
    if outcome.result is Result.SUCCEEDED and step.action.ends_in is Action.UPGRADE:
        status["upgrades"] = with_upgrade(current, status["lastAppliedTime"], desired.digest, policy)
    if outcome.result is Result.FAILED:
        status.update(_failure_fields(desired, at, policy))
        if step.rollout:  # the rollout failed here, however, even if helm wrote no revision (reconcile.rollout)
            status["failedRollout"] = desired.fleet_digest
        else:
            status.pop("failedRollout", None)
    if desired.retry_request and outcome.result in (Result.SUCCEEDED, Result.FAILED):
        status["retryHandled"] = desired.retry_request
    if outcome.result is Result.SUCCEEDED and step.live is not None and step.live.drift:
        status["driftCorrected"] = step.live.fingerprint  # the same drift back at once is not fought again
    ready, reason, message = _condition(outcome, current)
    status["conditions"] = [
        condition(current, "Ready", "True" if ready else "False", reason, message, desired.generation, at),
        *live_conditions(outcome, current, desired.generation, at),
    ]
    if operator_sdk:
        compat = operator_sdk_status(outcome, current, desired.generation, at)
        status["conditions"] += compat.pop("conditions")
        status.pop("deployedRelease", None)
        status.update(compat)
    status["message"] = message
    return status


def _failure_fields(desired: Desired, at: str, policy: FailurePolicy) -> dict[str, Any]:
    """Consecutive failures of the same desired state, and when the next attempt may start."""
    failures = desired.failures + 1 if desired.status.get("failedDigest") == desired.digest else 1
    next_attempt = format_time(parse_time(at) + policy.backoff(failures))
    return {"failures": failures, "failedDigest": desired.digest, "nextAttemptTime": next_attempt}


def _condition(outcome: Outcome, current: Mapping[str, Any]) -> tuple[bool, str, str]:
    action = outcome.step.action
    if outcome.result is Result.SUCCEEDED:
        return True, SUCCESS_REASONS[action.ends_in], outcome.message
    if outcome.result is Result.FAILED:
        return False, FAILURE_REASONS[action.ends_in], outcome.message
    if outcome.result is Result.BLOCKED:
        return False, "Blocked", outcome.message
    previous = find(current, "Ready")
    if previous and previous.get("status") == "True":
        return True, str(previous.get("reason") or "InSync"), str(previous.get("message") or outcome.message)
    return True, "InSync", outcome.message


class StatusWriter:
    """Writes each outcome's status and event as it arrives, from the apply workers, and keeps what failed."""

    def __init__(self, kube: Kube, resource: ResourceType, policy: FailurePolicy, operator_sdk: bool = False) -> None:
        self.kube = kube
        self.resource = resource
        self.policy = policy
        self.operator_sdk = operator_sdk
        self.problems: list[str] = []

    def __call__(self, outcome: Outcome) -> None:
        moment = now()
        status = new_status(outcome, moment, self.policy, self.operator_sdk)
        desired = outcome.step.desired
        changed = status is not None and desired is not None and status != dict(desired.status)
        try:
            if changed and desired is not None and status is not None:
                removed = {name: None for name in desired.status if name not in status}  # merge patch deletes
                _patch_status(
                    self.kube, self.resource, desired.owner.namespace or None, desired.owner.name, status | removed
                )
            if changed or (outcome.step.action.changes_release and outcome.result is not Result.NOT_STARTED):
                record_event(self.kube, self.resource, outcome, moment)
        except KubeError as error:
            self.problems.append(f"{outcome.step.owner}: could not write status: {error}")


def _patch_status(
    kube: Kube, resource: ResourceType, namespace: str | None, name: str, status: Mapping[str, Any]
) -> None:
    """Through the status subresource; a CRD without one keeps status in the object itself."""
    try:
        kube.patch(resource, namespace, name, {"status": status}, subresource="status")
        return
    except KubeNotFound:
        pass
    try:
        kube.patch(resource, namespace, name, {"status": status})
        return
    except KubeNotFound:
        pass
    except KubeForbidden:
        # Least-privilege RBAC grants only the status subresource: its 404 meant either a CR deleted meanwhile (the
        # next run uninstalls its release) or a CRD without the subresource, which nothing but the CRD fixes; which
        # one, only a read can tell.
        if _exists(kube, resource, namespace, name):
            raise KubeError(
                f"the CRD of {resource.plural}.{resource.group} has no status subresource, and helmcr may only "
                "write status through it: add `subresources: {status: {}}` to the CRD"
            ) from None
    log.info("%s/%s was deleted before its status could be written", namespace or "", name)


def _exists(kube: Kube, resource: ResourceType, namespace: str | None, name: str) -> bool:
    """A LIST of that one name: least-privilege RBAC grants ``list`` on the kind, not ``get``."""
    query = {"fieldSelector": f"metadata.name={name}", "limit": "1"}
    return bool(kube.request("GET", resource.path(namespace), query=query, accept=METADATA_LIST).get("items"))


def record_event(kube: Kube, resource: ResourceType, outcome: Outcome, at: str) -> None:
    """An Event on the CR, so `kubectl describe` tells the story; losing one is logged, never fatal."""
    owner = outcome.step.owner
    if owner is None or not owner.name:
        return
    reason = _event_reason(outcome)
    body = {
        "metadata": {"generateName": f"{owner.name[:200]}.", "namespace": owner.namespace or "default"},
        "involvedObject": {
            "apiVersion": f"{resource.group}/{resource.version}",
            "kind": owner.kind,
            "name": owner.name,
            "namespace": owner.namespace,
            "uid": owner.uid,
        },
        "reason": reason,
        "message": outcome.message[:1000],
        "type": "Normal" if outcome.ok and reason not in WARNING_REASONS else "Warning",
        "source": {"component": "helmcr"},
        "reportingComponent": "helmcr",
        "reportingInstance": socket.gethostname()[:128],
        "firstTimestamp": at,
        "lastTimestamp": at,
        "count": 1,
    }
    try:
        kube.create(EVENTS, owner.namespace or "default", body)
    except KubeError as error:
        log.warning("could not record event %s for %s: %s", reason, owner, error)


def _event_reason(outcome: Outcome) -> str:
    action = outcome.step.action.ends_in
    if outcome.result is Result.SUCCEEDED:
        return SUCCESS_REASONS.get(action, "UninstallSucceeded")
    if outcome.result is Result.FAILED:
        return FAILURE_REASONS[action]
    if outcome.result is Result.BLOCKED:
        return "Blocked"
    live = outcome.step.live
    if live is not None and live.drift:
        return "DriftDetected"
    return "NotReady" if live is not None and live.not_ready else "InSync"
