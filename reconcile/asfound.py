"""A release's objects as the live pass found them, for the preview's object diff.

A drift correction upgrades a release to its own chart and values, so the diff between the release record and
what helm would render is empty: what changes is the cluster. Diffing the objects *as found* (the deployed
manifest with each drifted field at its live value, each missing object left out) against the rendered ones shows
what the correction puts back, as helm-diff's three-way mode does, and only for fields the release owns: what an
autoscaler or another trusted manager holds was never counted as drift, so it never shows here either.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from reconcile.livereport import MISSING, Drift, ObjectRef
from reconcile.manifests import written_objects

_REMOVED: Any = object()  # a list item the live object lost: dropped once every pointer into the list was followed


def as_found(manifest: str, namespace: str, drift: Sequence[Drift]) -> str:
    """``manifest`` with ``drift`` applied to it; the manifest itself when there is none or it does not parse
    (then the preview's own parse reports it). ``namespace`` is the release's, where helm puts an object that
    names none."""
    objects = written_objects(manifest) if drift else None
    if objects is None:
        return manifest
    found = []
    for body in objects:
        changes = [d for d in drift if _names(d.ref, body, namespace)]
        if any(d.missing_object for d in changes):
            continue
        found.append(_with_live_fields(body, changes) if changes else body)
    return "".join(f"---\n{yaml.safe_dump(dict(body), sort_keys=False)}" for body in found)


def _names(ref: ObjectRef, body: Mapping[str, Any], namespace: str) -> bool:
    metadata = body.get("metadata") or {}
    return (
        (ref.kind, ref.name) == (body.get("kind"), metadata.get("name"))
        and ref.api_version in ("", body.get("apiVersion"))
        and ref.namespace in ("", metadata.get("namespace") or namespace)  # "": a cluster-scoped object
    )


def _with_live_fields(body: Mapping[str, Any], changes: Sequence[Drift]) -> Any:
    result = copy.deepcopy(dict(body))
    for change in changes:
        _set(result, _tokens(change.pointer), _REMOVED if change.actual is MISSING else change.actual)
    return _without_removed(result)


def _tokens(pointer: str) -> list[str]:
    """RFC 6901: ``/a/b~1c`` is a, then b/c."""
    return [token.replace("~1", "/").replace("~0", "~") for token in pointer.split("/")[1:]]


def _set(node: Any, tokens: list[str], value: Any) -> None:
    """Set the value at a pointer into what the release applied (so the path exists up to its last step)."""
    *parents, last = tokens
    for token in parents:
        node = node[int(token)] if isinstance(node, list) else node.setdefault(_key(node, token), {})
        if node is _REMOVED:  # inside a list item that is gone as a whole
            return
    if isinstance(node, list):
        node[int(last)] = value
    elif value is _REMOVED:
        node.pop(_key(node, last), None)
    else:
        node[_key(node, last)] = value


def _key(mapping: dict[Any, Any], token: str) -> Any:
    """The key a pointer token names: YAML may have read ``80:`` as a number, which the API server keeps as "80"."""
    return next((key for key in mapping if str(key) == token), token)


def _without_removed(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: _without_removed(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_without_removed(item) for item in node if item is not _REMOVED]
    return node
