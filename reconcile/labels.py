"""The labels helmcr puts on the Helm releases it creates: ownership, and the digest of what was deployed.

Helm (≥3.13) copies release labels onto its release records, so one metadata-only LIST selected by these labels
finds every release of a kind with its state and digest. Label values are capped at 63 characters; long names are
shortened with a hash suffix, so they identify but cannot always be read back: the owner's UID is what counts.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

from reconcile.model import ResourceRef

MANAGER = "helmcr"
LABEL_PREFIX = "helmcr.io/"
LABEL_MANAGED_BY = LABEL_PREFIX + "managed-by"
LABEL_OWNER_GROUP = LABEL_PREFIX + "owner-group"
LABEL_OWNER_KIND = LABEL_PREFIX + "owner-kind"
LABEL_OWNER_NAMESPACE = LABEL_PREFIX + "owner-namespace"
LABEL_OWNER_NAME = LABEL_PREFIX + "owner-name"
LABEL_OWNER_UID = LABEL_PREFIX + "owner-uid"
LABEL_DIGEST = LABEL_PREFIX + "digest"
LABEL_FLEET_DIGEST = LABEL_PREFIX + "fleet-digest"  # what every release of the kind shares: chart and overrides
LABEL_KEEP = LABEL_PREFIX + "keep"
LABEL_ROLLOUT = LABEL_PREFIX + "rollout"  # "true": deployed by its kind's rollout, whose failure budget it counts in
ANNOTATION_KEEP = LABEL_PREFIX + "keep"
ANNOTATION_RETRY = LABEL_PREFIX + "retry"
OPERATOR_SDK_PREFIX = "helm.sdk.operatorframework.io/"  # its per-CR annotations (reconcile.compat)
LABEL_VALUE_MAX = 63
LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")


def label_value(text: str) -> str:
    """Fit any name into a label value, keeping it readable when it already fits and unique when it does not."""
    if len(text) <= LABEL_VALUE_MAX and LABEL_VALUE.match(text):
        return text
    suffix = hashlib.sha256(text.encode()).hexdigest()[:10]
    head = re.sub(r"[^-A-Za-z0-9_.]", "-", text)[: LABEL_VALUE_MAX - len(suffix) - 1].strip("-_.")
    return f"{head}-{suffix}" if head else suffix


def ownership_labels(
    owner: ResourceRef, digest: str, keep: bool = False, fleet_digest: str = "", rollout: bool = False
) -> dict[str, str]:
    """``keep`` and ``rollout`` are always written ("true" or "false"), since Helm merges new labels into the
    release's old ones."""
    return {
        LABEL_FLEET_DIGEST: fleet_digest,
        LABEL_KEEP: "true" if keep else "false",
        LABEL_ROLLOUT: "true" if rollout else "false",
        LABEL_MANAGED_BY: MANAGER,
        LABEL_OWNER_GROUP: label_value(owner.group),
        LABEL_OWNER_KIND: label_value(owner.kind),
        LABEL_OWNER_NAMESPACE: label_value(owner.namespace),
        LABEL_OWNER_NAME: label_value(owner.name),
        LABEL_OWNER_UID: owner.uid,
        LABEL_DIGEST: digest,
    }


def owner_from_labels(labels: Mapping[str, str]) -> ResourceRef | None:
    """The CR a release's labels name as its owner, or None when helmcr did not create it (informative only:
    long names are stored shortened; the UID is what identifies)."""
    if labels.get(LABEL_MANAGED_BY) != MANAGER:
        return None
    return ResourceRef(
        group=labels.get(LABEL_OWNER_GROUP, ""),
        kind=labels.get(LABEL_OWNER_KIND, ""),
        namespace=labels.get(LABEL_OWNER_NAMESPACE, ""),
        name=labels.get(LABEL_OWNER_NAME, ""),
        uid=labels.get(LABEL_OWNER_UID, ""),
    )


def owned_selector(group: str, kind: str) -> str:
    """The release records helmcr created for one kind: what a no-op run lists instead of running `helm list`."""
    return (
        f"owner=helm,{LABEL_MANAGED_BY}={MANAGER},{LABEL_OWNER_GROUP}={label_value(group)},"
        f"{LABEL_OWNER_KIND}={label_value(kind)}"
    )


def named_selector(names: list[str]) -> str:
    """Release records of any owner with one of these release names: the check for a name already taken."""
    return f"owner=helm,name in ({','.join(sorted(names))})"
