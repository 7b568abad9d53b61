"""Saved plans: ``helmcr plan --out plan.json`` records what was reviewed; ``helmcr apply plan.json`` does exactly
that, refusing each step whose CR, release revision or desired digest changed since.

The file holds identities and digests, never values: the digest covers the chart and every value, so a step whose
digest still matches would deploy exactly what was reviewed, and the file can be kept as a CI artifact without
leaking anything.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from reconcile.clock import now
from reconcile.errors import ConfigError
from reconcile.model import Plan, Step
from reconcile.settings import Watch

API_VERSION = "helmcr.io/v1alpha1"
KIND = "SavedPlan"


def plan_document(plans: Sequence[tuple[Watch, Plan]], config: Path, namespaces: Sequence[str]) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "createdAt": now(),
        "config": str(config),
        "namespaces": list(namespaces),
        "steps": [_record(watch, step) for watch, plan in plans for step in plan.changes],
    }


def write_plan(document: Mapping[str, Any], path: Path) -> None:
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def read_plan(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ConfigError(f"{path}: not a readable saved plan: {error}") from None
    if not isinstance(document, dict) or document.get("apiVersion") != API_VERSION or document.get("kind") != KIND:
        raise ConfigError(f"{path}: not a helmcr saved plan ({API_VERSION} {KIND})")
    return document


def reviewed_only(document: Mapping[str, Any]) -> Callable[[Step], str]:
    """A check for each step about to change a release: "" when it is the reviewed step, else why not."""
    reviewed = {(s["kind"], s["release"]["namespace"], s["release"]["name"]): s for s in document.get("steps", [])}

    def check(step: Step) -> str:
        owner = step.owner
        kind = f"{owner.kind}.{owner.group}" if owner else ""
        saved = reviewed.get((kind, step.key.namespace, step.key.name))
        if saved is None:
            return f"{step.action} of {step.key} is not in the reviewed plan"
        current = _record_fields(step)
        changed = [f"{name} {saved.get(name)!r} → {new!r}" for name, new in current.items() if saved.get(name) != new]
        return f"changed since the plan was made: {'; '.join(changed)}" if changed else ""

    return check


def _record(watch: Watch, step: Step) -> dict[str, Any]:
    return {
        "kind": f"{watch.kind}.{watch.group}",
        "release": {"namespace": step.key.namespace, "name": step.key.name},
        "reason": step.reason,
        **_record_fields(step),
    }


def _record_fields(step: Step) -> dict[str, Any]:
    """What must be unchanged for a reviewed step to still be the same step."""
    desired = step.desired
    return {
        "action": str(step.action),
        "ownerUid": desired.owner.uid if desired else (step.observed.owner_uid if step.observed else ""),
        "generation": desired.generation if desired else 0,
        "observedRevision": step.observed.revision if step.observed else 0,
        "desiredDigest": desired.digest if desired else "",
    }
