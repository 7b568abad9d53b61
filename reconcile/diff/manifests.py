"""Diff two rendered manifests object by object, with the content of Secrets hidden.

helm renders a release as one YAML stream: documents split by ``---`` lines, each after a ``# Source:`` comment
naming its template. Each document is read on its own, so one malformed template costs a note, not the whole
diff. An object is identified by (apiVersion, kind, namespace, name), the namespace defaulting to the release's as
helm does; it is compared as canonical YAML (sorted keys), so key order and quoting never show as changes.

A Secret's ``data`` and ``stringData`` are replaced by placeholders before diffing, which say per key whether it
was added, removed or changed and how long it is, but nothing of the value, not even its base64: a short
password's hash or encoding is as good as the password.
"""

from __future__ import annotations

import base64
import binascii
import difflib
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import yaml

from reconcile.diff.mask import Masker
from reconcile.diff.model import ManifestDiff, ObjectChange, object_label
from reconcile.manifests import describe_unreadable, documents

_ABSENT: Any = object()
MAX_DIFF_PRODUCT = 20_000 * 20_000  # lines by lines: two objects of 20,000 lines still diff in seconds


class _Key(NamedTuple):
    """An object's identity, in the order objects are reported."""

    kind: str
    namespace: str
    name: str
    api_version: str

    @property
    def label(self) -> str:
        return object_label(self.api_version, self.kind, self.namespace, self.name)


@dataclass(frozen=True)
class _Document:
    body: Mapping[str, Any]
    source: str


def diff_manifests(
    deployed: str,
    desired: str,
    *,
    namespace: str,
    context: int = 3,
    show_secrets: bool = False,
    secrets: Collection[str] = (),
) -> ManifestDiff:
    """The objects added, removed or changed between two manifests, sorted by kind, namespace, name, apiVersion.

    Each diff is unified with ``context`` lines around changes; an added or removed object is shown whole.
    ``secrets`` (strings from sensitive values) are masked in every object (see :mod:`reconcile.diff.mask`): a
    chart may copy a password into a ConfigMap or an environment variable, not only into a Secret.
    """
    if context < 0:
        raise ValueError(f"context must be 0 or more, not {context}")
    old, old_notes = parse_manifest(deployed, namespace=namespace, side="deployed")
    new, new_notes = parse_manifest(desired, namespace=namespace, side="desired")
    masker = Masker(secrets)
    changes = []
    for key in sorted(old.keys() | new.keys()):
        before, after = (side[key].body if key in side else None for side in (old, new))
        if _canonical(before) == _canonical(after):
            continue
        if key.kind == "Secret" and not show_secrets:
            before, after = _hide_secret_data(before, after)
        lines = _unified(
            _canonical(masker.tree(before)).splitlines(),
            _canonical(masker.tree(after)).splitlines(),
            fromfile=key.label if before is not None else "/dev/null",
            tofile=key.label if after is not None else "/dev/null",
            context=context,
        )
        changes.append(
            ObjectChange(
                api_version=key.api_version,
                kind=key.kind,
                namespace=key.namespace,
                name=key.name,
                change="added" if before is None else "removed" if after is None else "changed",
                diff="\n".join(lines),
                source=(new[key] if key in new else old[key]).source,
            )
        )
    return ManifestDiff(objects=tuple(changes), notes=tuple(old_notes + new_notes))


def _unified(old: list[str], new: list[str], *, fromfile: str, tofile: str, context: int) -> list[str]:
    """A unified diff, unless both sides are so long that diffing them line by line would take minutes (difflib is
    quadratic in the worst case): then only how long each side is."""
    if old and new and len(old) * len(new) > MAX_DIFF_PRODUCT:
        return [f"--- {fromfile}", f"+++ {tofile}", f"@@ too large to diff here: {len(old)} → {len(new)} lines @@"]
    return list(difflib.unified_diff(old, new, fromfile=fromfile, tofile=tofile, n=context, lineterm=""))


def parse_manifest(text: str, *, namespace: str, side: str) -> tuple[dict[_Key, _Document], list[str]]:
    """The objects of one manifest by identity, and a note for each document that could not be used."""
    objects: dict[_Key, _Document] = {}
    notes: list[str] = []
    for document in documents(text):
        where = f"{side} manifest, document at line {document.line}" + (
            f" ({document.source})" if document.source else ""
        )
        if document.error is not None:
            why = describe_unreadable(document.error, document.line)
            notes.append(f"{where} is not valid YAML ({why}); it is left out of the diff")
            continue
        for body in document.objects:
            key = _identify(body, namespace)
            if key is None:
                notes.append(f"{where} is not a Kubernetes object (no kind or metadata.name); it is left out")
                continue
            if key in objects:
                notes.append(f"{where} defines {key.label} again; the last definition is used")
            objects[key] = _Document(body, document.source)
    return objects, notes


def _identify(body: Any, namespace: str) -> _Key | None:
    metadata = body.get("metadata") if isinstance(body, Mapping) else None
    if not isinstance(metadata, Mapping) or not body.get("kind") or not metadata.get("name"):
        return None
    return _Key(
        kind=str(body["kind"]),
        namespace=str(metadata.get("namespace") or namespace),
        name=str(metadata["name"]),
        api_version=str(body.get("apiVersion", "")),
    )


def _canonical(body: Mapping[str, Any] | None) -> str:
    if body is None:
        return ""
    try:
        return yaml.safe_dump(body, sort_keys=True, default_flow_style=False, allow_unicode=True)
    except TypeError:  # keys of mixed types ({1: a, b: c}) cannot be sorted: keep the document's own order
        return yaml.safe_dump(body, sort_keys=False, default_flow_style=False, allow_unicode=True)


def _hide_secret_data(
    before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
) -> tuple[Mapping[str, Any] | None, Mapping[str, Any] | None]:
    """Copies of both versions of a Secret with each value of data/stringData replaced by a placeholder."""
    old = dict(before or {})
    new = dict(after or {})
    for field, decode in (("data", _decode_base64), ("stringData", _encode_text)):
        hidden = _hide_field(old.get(field, _ABSENT), new.get(field, _ABSENT), decode)
        for copy, value in zip((old, new), hidden, strict=True):
            if value is not _ABSENT:
                copy[field] = value
    return old if before is not None else None, new if after is not None else None


def _hide_field(old: Any, new: Any, decode: Callable[[Any], bytes]) -> tuple[Any, Any]:
    """Placeholders for one field: key by key when it is a map, as one value when it is not (a broken Secret)."""
    if old is _ABSENT and new is _ABSENT:
        return old, new
    if not all(isinstance(side, Mapping) or side is _ABSENT for side in (old, new)):
        return _placeholders(old, new, decode)
    old_map, new_map = (side if isinstance(side, Mapping) else {} for side in (old, new))
    hidden = {
        key: _placeholders(old_map.get(key, _ABSENT), new_map.get(key, _ABSENT), decode)
        for key in dict.fromkeys([*old_map, *new_map])
    }
    old_hidden = {key: pair[0] for key, pair in hidden.items() if pair[0] is not _ABSENT}
    new_hidden = {key: pair[1] for key, pair in hidden.items() if pair[1] is not _ABSENT}
    return (_ABSENT if old is _ABSENT else old_hidden), (_ABSENT if new is _ABSENT else new_hidden)


def _placeholders(before: Any, after: Any, decode: Callable[[Any], bytes]) -> tuple[Any, Any]:
    """What to show for one secret value on each side: a size and, on the desired side, what happened."""
    if before is _ABSENT:
        return _ABSENT, f"(added, {_size(decode(after))})"
    if after is _ABSENT:
        return f"(removed, {_size(decode(before))})", _ABSENT
    if before == after:
        return (f"({_size(decode(before))})",) * 2
    old_size, new_size = len(decode(before)), len(decode(after))
    return f"({_size(old_size)})", f"(changed, {old_size} → {_size(new_size)})"


def _decode_base64(value: Any) -> bytes:
    """A data value's real bytes; a value that is not base64 (Kubernetes would refuse it) counts as text."""
    text = _encode_text(value)
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        return text


def _encode_text(value: Any) -> bytes:
    return b"" if value is None else str(value).encode()


def _size(count: int | bytes) -> str:
    count = count if isinstance(count, int) else len(count)
    return f"{count} byte" if count == 1 else f"{count} bytes"
