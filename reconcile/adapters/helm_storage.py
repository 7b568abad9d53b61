"""The only module that knows Helm's storage layout: reading one release record, and unlocking a stuck one.

A record is the Secret ``sh.helm.release.v1.<name>.v<revision>`` whose ``data.release`` holds
base64(gzip(JSON of the release)), labelled owner/name/status/version. Normal runs never read payloads (labels are
enough); this module is used only for a preview's diff (the deployed values and manifest) and to recover a release
whose operation died: Helm refuses to touch a release whose latest record says ``pending-*``, and the process that
would have finished it is gone. Flux and k3s's helm-controller do the same, through Helm's storage driver.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import time
from typing import Any

from reconcile.adapters.kube import SECRETS, Kube
from reconcile.errors import KubeError
from reconcile.model import ReleaseKey


class CorruptRecordError(KubeError):
    """The record's payload cannot be decoded; the release is left exactly as it is."""


def record_name(key: ReleaseKey, revision: int) -> str:
    return f"sh.helm.release.v1.{key.name}.v{revision}"


def read_release(kube: Kube, key: ReleaseKey, revision: int) -> dict[str, Any]:
    """The decoded release (its ``config`` are the values, ``manifest`` the rendered objects)."""
    return decode(kube.get(SECRETS, key.namespace, record_name(key, revision)), key, revision)


def read_record(kube: Kube, key: ReleaseKey, revision: int) -> tuple[dict[str, Any], str]:
    """The decoded release and its record's resourceVersion, for a later write that must not follow a change it
    did not see."""
    secret = kube.get(SECRETS, key.namespace, record_name(key, revision))
    return decode(secret, key, revision), str((secret.get("metadata") or {}).get("resourceVersion") or "")


def label_record(kube: Kube, key: ReleaseKey, revision: int, labels: dict[str, str], resource_version: str) -> None:
    """Add ``labels`` to a record (helm's own stay). With the resourceVersion read, the API server refuses the write
    if a helm touched the record since (an upgrade marks it superseded): nothing stale is labelled."""
    metadata = {"labels": labels, "resourceVersion": resource_version}
    kube.patch(SECRETS, key.namespace, record_name(key, revision), {"metadata": metadata})


def mark_failed(kube: Kube, key: ReleaseKey, revision: int, why: str) -> None:
    """Turn a dead pending-* record into a failed one, as Helm itself would have had its process survived.

    The write carries the record's resourceVersion, so if anything touched the record since it was read (a late
    helm finishing after all), the API server refuses it and nothing is overwritten.
    """
    secret = kube.get(SECRETS, key.namespace, record_name(key, revision))
    release = decode(secret, key, revision)
    info = release.setdefault("info", {})
    info["status"] = "failed"
    info["description"] = why
    metadata = secret["metadata"]
    labels = {**(metadata.get("labels") or {}), "status": "failed", "modifiedAt": str(int(time.time()))}
    body = {**secret, "metadata": {**metadata, "labels": labels}, "data": {"release": encode(release)}}
    kube.replace(SECRETS, key.namespace, record_name(key, revision), body)


def decode(secret: dict[str, Any], key: ReleaseKey, revision: int) -> dict[str, Any]:
    try:
        payload = base64.b64decode(base64.b64decode((secret.get("data") or {})["release"]))
        document: dict[str, Any] = json.loads(gzip.decompress(payload) if payload[:2] == b"\x1f\x8b" else payload)
    except (KeyError, ValueError, binascii.Error, OSError, EOFError) as error:
        raise CorruptRecordError(
            f"release record {key.namespace}/{record_name(key, revision)} is corrupt ({type(error).__name__}); "
            "it was left untouched"
        ) from None
    return document


def encode(release: dict[str, Any]) -> str:
    inner = base64.b64encode(gzip.compress(json.dumps(release, separators=(",", ":")).encode()))
    return base64.b64encode(inner).decode()
