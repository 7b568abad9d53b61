"""Drift: where a live object no longer holds what its release applied, judged by field ownership, not by value.

Every write to an object records who owns each field it set (``metadata.managedFields``): helm owns what it
applied (Helm 3 by update, Helm 4 by server-side apply, both as manager ``helm``), and a field someone else changes
moves to them (``kubectl`` for a manual scale, ``kubectl-set`` for ``kubectl set image``, ``kube-controller-manager``
for an autoscaler). So a field the release's manifest sets is drifted exactly when helm no longer owns it. Reading
ownership instead of comparing values means nothing the API server defaults or normalises (``cpu: 0.5`` stored as
``500m``, a port's ``protocol: TCP``) is ever called drift, and a field another controller is trusted with
(``ignoreManagers``) is never fought over. A manifest object that no longer exists is drift too.

Pure: the adapter (:mod:`reconcile.adapters.liveobjects`) brings the manifests and the live objects.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from reconcile.livereport import MISSING, Drift, ObjectRef
from reconcile.settings import LiveChecks

HELM_MANAGERS = frozenset({"helm"})
# Identity and bookkeeping, not content: a rename is a new object, and these change with every write.
SKIPPED_METADATA = frozenset({"name", "namespace", "generateName", "resourceVersion", "uid", "creationTimestamp"})


def object_drift(
    ref: ObjectRef, applied: Mapping[str, Any], live: Mapping[str, Any], checks: LiveChecks
) -> list[Drift]:
    """The fields of ``applied`` (the release's manifest object) that helm no longer owns in ``live``."""
    entries = _entries(live)
    owned = _merged(e.get("fieldsV1") for e in entries if e.get("manager") in HELM_MANAGERS)
    if owned is None:
        return []  # helm owns none of it: not an object helm wrote (see helm_wrote), nothing can be told
    others = {
        str(e.get("manager")): e.get("fieldsV1") or {}
        for e in entries
        if e.get("manager") not in HELM_MANAGERS and e.get("subresource") != "status"
    }
    found = []
    for pointer, path, expected, actual in _unowned(applied, live, owned, "", ()):
        by = tuple(sorted(manager for manager, fields in others.items() if _holds(fields, path)))
        if by and set(by) <= set(checks.ignore_managers):
            continue
        if checks.ignored(ref.kind, ref.name, pointer):
            continue
        found.append(Drift(ref, pointer, expected, actual, by))
    return found


def helm_wrote(live: Mapping[str, Any]) -> bool:
    """Whether ownership of the object tells anything: helm appears among its managers. Not so for an object
    written under another manager name (a helm binary renamed, say ``helm3``), which would otherwise look drifted
    in every field, and be "corrected" on every run."""
    return any(entry.get("manager") in HELM_MANAGERS for entry in _entries(live))


def _entries(live: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    metadata = live.get("metadata") or {}
    return [entry for entry in metadata.get("managedFields") or [] if isinstance(entry, Mapping)]


FieldPath = tuple[str, ...]
"""Keys into a ``fieldsV1`` set: ``f:spec``, ``f:replicas``, or ``k:{"name":"memcached"}`` for a list item."""


def _unowned(
    applied: Any, live: Any, owned: Mapping[str, Any] | None, pointer: str, path: FieldPath
) -> Iterator[tuple[str, FieldPath, Any, Any]]:
    """(pointer, field path, applied value, live value) of each field the manifest sets and helm does not own."""
    for key, value in applied.items():
        if _skipped(pointer, key, value):
            continue
        child_pointer = f"{pointer}/{_escape(str(key))}"
        child_path = (*path, f"f:{key}")
        child_live = live.get(key, MISSING) if isinstance(live, Mapping) else MISSING
        child_owned = owned.get(f"f:{key}") if owned is not None else None
        if child_owned is None:
            yield child_pointer, child_path, value, child_live
        elif not child_owned:
            continue  # owned whole: a scalar, or an atomic map or list (a Service's selector), all helm's
        elif isinstance(value, Mapping):
            yield from _unowned(value, child_live, child_owned, child_pointer, child_path)
        elif _is_keyed_list(value, child_owned):
            yield from _unowned_items(value, child_live, child_owned, child_pointer, child_path)


def _unowned_items(
    applied: list[Any], live: Any, owned: Mapping[str, Any], pointer: str, path: FieldPath
) -> Iterator[tuple[str, FieldPath, Any, Any]]:
    """A list merged by key (containers by name, ports by port and protocol): each applied item is found by its key
    among helm's entries and among the live items; an item helm no longer holds is drift as a whole."""
    keys = {entry: json.loads(entry[2:]) for entry in owned if entry.startswith("k:")}
    live_items = live if isinstance(live, list) else []
    for index, item in enumerate(applied):
        item_pointer = f"{pointer}/{index}"
        entry = next((e for e, key in keys.items() if _has_key(item, key)), None)
        if entry is None:
            twin = next((candidate for candidate in live_items if _covers(candidate, item)), MISSING)
            if twin is MISSING:
                yield item_pointer, (*path, f"i:{index}"), item, MISSING
            continue
        twin = next((candidate for candidate in live_items if _has_key(candidate, keys[entry])), MISSING)
        yield from _unowned(item, twin, owned[entry], item_pointer, (*path, entry))


def _skipped(pointer: str, key: Any, value: Any) -> bool:
    """Nothing to own: an empty or null value is stored as nothing, and identity and status are not content."""
    if value is None or value == {} or value == []:
        return True
    if pointer == "":
        return key in ("apiVersion", "kind", "status")
    return pointer == "/metadata" and key in SKIPPED_METADATA


def _is_keyed_list(value: Any, owned: Mapping[str, Any]) -> bool:
    return isinstance(value, list) and any(entry.startswith("k:") for entry in owned)


def _has_key(item: Any, key: Mapping[str, Any]) -> bool:
    """An item matches a list key when every key field it sets is equal (a field it leaves out was defaulted, as
    ``protocol: TCP`` of a port)."""
    if not isinstance(item, Mapping):
        return False
    return all(item.get(name, value) == value for name, value in key.items()) and any(name in item for name in key)


def _covers(live: Any, applied: Any) -> bool:
    """Whether a live value holds everything the applied one sets (and may hold more, defaulted)."""
    if isinstance(applied, Mapping):
        return isinstance(live, Mapping) and all(_covers(live.get(k, MISSING), v) for k, v in applied.items())
    if isinstance(applied, list):
        return isinstance(live, list) and len(live) == len(applied) and all(map(_covers, live, applied))
    return bool(live == applied)


def _holds(fields: Mapping[str, Any], path: FieldPath) -> bool:
    """Whether a manager's ``fieldsV1`` holds the field at ``path`` or anything below it."""
    node: Any = fields
    for step in path:
        if not isinstance(node, Mapping) or step not in node:
            return False
        node = node[step]
    return True


def _merged(sets: Iterator[Any]) -> dict[str, Any] | None:
    """Helm's field sets merged: its create and its later patches are separate entries (per operation)."""
    result: dict[str, Any] | None = None
    for fields in sets:
        if isinstance(fields, Mapping):
            result = _union(result or {}, fields)
    return result


def _union(left: Mapping[str, Any], right: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(left)
    for key, value in right.items():
        existing = merged.get(key)
        merged[key] = _union(existing, value) if isinstance(existing, Mapping) and isinstance(value, Mapping) else value
    return merged


def _escape(key: str) -> str:
    """RFC 6901: ``~`` and ``/`` inside a key (``app.kubernetes.io/name``)."""
    return key.replace("~", "~0").replace("/", "~1")
