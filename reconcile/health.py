"""Health: whether a release's objects are up, judged from their live status the way kstatus does, on the next run.

helmcr does not hold helm's lock with ``--wait``; the run after a change reads the objects instead. A workload is
up when its controller has seen the latest spec (``status.observedGeneration``) and enough replicas are updated and
ready; a Job when it completed; any other kind when its ``Ready`` condition (if it has one) is not False and it is
not ``Stalled``. Anything else is up as soon as it exists. Pure: one live object in, a reason out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


def not_ready(kind: str, live: Mapping[str, Any]) -> str:
    """Why the object is not up yet (or failed); "" when it is. The kind is given: a LIST's items carry none."""
    status = _mapping(live.get("status"))
    generation = _number(_mapping(live.get("metadata")).get("generation"))
    if kind in WORKLOADS and generation and _number(status.get("observedGeneration")) < generation:
        return "its controller has not seen the latest spec yet"
    judge = WORKLOADS.get(kind) or OTHERS.get(kind) or _by_conditions
    return judge(_mapping(live.get("spec")), status)


def _deployment(spec: Mapping[str, Any], status: Mapping[str, Any]) -> str:
    progressing = _condition(status, "Progressing")
    if progressing.get("reason") == "ProgressDeadlineExceeded":
        return f"rollout failed: {progressing.get('message') or 'progress deadline exceeded'}"
    wanted = _replicas(spec)
    if short := _short("updated", status.get("updatedReplicas"), wanted):
        return short
    # a rolling update whose new pods never become ready keeps the old ones: available, yet not the new spec
    old = _number(status.get("replicas")) - _number(status.get("updatedReplicas"))
    if old > 0:
        return f"{old} old replica(s) not replaced yet: the new ones are not available"
    return _short("available", status.get("availableReplicas"), wanted)


def _stateful_set(spec: Mapping[str, Any], status: Mapping[str, Any]) -> str:
    wanted = _replicas(spec)
    partition = _number(_mapping(_mapping(spec.get("updateStrategy")).get("rollingUpdate")).get("partition"))
    if short := _short("ready", status.get("readyReplicas"), wanted):
        return short
    if _mapping(spec.get("updateStrategy")).get("type", "RollingUpdate") != "RollingUpdate":
        return ""
    if short := _short("updated", status.get("updatedReplicas"), wanted - partition):
        return short
    return ""


def _daemon_set(spec: Mapping[str, Any], status: Mapping[str, Any]) -> str:
    wanted = _number(status.get("desiredNumberScheduled"))
    return _short("updated", status.get("updatedNumberScheduled"), wanted) or _short(
        "available", status.get("numberAvailable"), wanted
    )


def _job(spec: Mapping[str, Any], status: Mapping[str, Any]) -> str:
    failed = _condition(status, "Failed")
    if failed.get("status") == "True":
        return f"failed: {failed.get('reason') or ''} {failed.get('message') or ''}".strip()
    if _condition(status, "Complete").get("status") == "True":
        return ""
    return f"not complete yet ({_number(status.get('active'))} running, {_number(status.get('failed'))} failed)"


def _pod(spec: Mapping[str, Any], status: Mapping[str, Any]) -> str:
    phase = status.get("phase")
    if phase == "Succeeded" or (phase == "Running" and _condition(status, "Ready").get("status") == "True"):
        return ""
    waiting = [
        f"{c.get('name')}: {_mapping(_mapping(c.get('state')).get('waiting')).get('reason')}"
        for c in status.get("containerStatuses") or []
        if isinstance(c, Mapping) and _mapping(c.get("state")).get("waiting")
    ]
    return f"pod is {phase or 'Pending'}" + (f" ({', '.join(waiting)})" if waiting else "")


def _claim(spec: Mapping[str, Any], status: Mapping[str, Any]) -> str:
    return "" if status.get("phase") == "Bound" else f"claim is {status.get('phase') or 'Pending'}"


def _by_conditions(spec: Mapping[str, Any], status: Mapping[str, Any]) -> str:
    stalled = _condition(status, "Stalled")
    if stalled.get("status") == "True":
        return f"stalled: {stalled.get('message') or stalled.get('reason') or ''}".strip()
    ready = _condition(status, "Ready")
    if ready.get("status") == "False":
        return f"not Ready: {ready.get('message') or ready.get('reason') or ''}".strip()
    return ""


Judge = Callable[[Mapping[str, Any], Mapping[str, Any]], str]
WORKLOADS: dict[str, Judge] = {
    "Deployment": _deployment,
    "StatefulSet": _stateful_set,
    "DaemonSet": _daemon_set,
}
OTHERS: dict[str, Judge] = {"Job": _job, "Pod": _pod, "PersistentVolumeClaim": _claim}


def _short(what: str, have: Any, wanted: int) -> str:
    count = _number(have)
    return f"{count} of {wanted} replicas {what}" if count < wanted else ""


def _replicas(spec: Mapping[str, Any]) -> int:
    return _number(spec.get("replicas"), default=1)


def _condition(status: Mapping[str, Any], kind: str) -> Mapping[str, Any]:
    for condition in status.get("conditions") or []:
        if isinstance(condition, Mapping) and condition.get("type") == kind:
            return condition
    return {}


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _number(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default
