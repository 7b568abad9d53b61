"""Diff two sets of Helm values leaf by leaf, and decide which leaves are secrets.

A leaf is named by its key path (``image.tag``, ``tolerations[0].key``; a key that is not a plain identifier is
quoted: ``podAnnotations["prometheus.io/scrape"]``). A path *pattern* may also hold wildcards, ``[*]`` for any
item of a list and ``*`` for any key of a map: that is how a chart's JSON schema names its sensitive values, since
the schema speaks of every item and every map entry at once.

A leaf is sensitive when a pattern covers it or one of its ancestors, or when one of its keys matches the
sensitive-key pattern: ``auth.password`` and everything below ``auth`` alike, as in :mod:`reconcile.redact`.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconcile.diff.mask import Masker
from reconcile.diff.model import Change, ValueChange
from reconcile.manifests import as_mapping
from reconcile.redact import SENSITIVE_KEY, SHORTEST_SECRET


class Wildcard(enum.Enum):
    KEY = "*"  # any key of a map: additionalProperties, patternProperties
    INDEX = "[*]"  # any item of a list: items


Path = tuple[str | int, ...]
Pattern = tuple[str | int | Wildcard, ...]

_IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_-]*"  # a key written bare; any other is quoted as JSON
_TOKEN = re.compile(
    rf"(?P<dot>\.)?(?:(?P<key>{_IDENTIFIER})|(?P<any_key>\*))"
    r'|\[(?:(?P<index>[0-9]+)|(?P<any_index>\*)|(?P<quoted>"(?:[^"\\]|\\.)*"))\]'
)
_COMBINATORS = ("allOf", "anyOf", "oneOf")
_ABSENT: Any = object()


def format_path(path: Pattern) -> str:
    """The key path as people read it; :func:`parse_path` reads it back."""
    text = ""
    for segment in path:
        if segment is Wildcard.KEY:
            text += ".*"
        elif segment is Wildcard.INDEX:
            text += "[*]"
        elif isinstance(segment, int):
            text += f"[{segment}]"
        elif isinstance(segment, str) and re.fullmatch(_IDENTIFIER, segment):
            text += f".{segment}"
        else:
            text += f"[{json.dumps(segment, ensure_ascii=False)}]"
    return text.removeprefix(".")


def parse_path(text: str) -> Pattern:
    """The segments of a path written by :func:`format_path` (or by a person configuring extra patterns)."""
    segments: list[str | int | Wildcard] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        is_key = match is not None and (match["key"] or match["any_key"]) is not None
        if match is None or (is_key and (match["dot"] is None) != (position == 0)):  # a dot before every key but one
            raise ValueError(f"not a key path: {text!r} (at character {position + 1})")
        if match["key"]:
            segments.append(match["key"])
        elif match["any_key"]:
            segments.append(Wildcard.KEY)
        elif match["index"]:
            segments.append(int(match["index"]))
        elif match["any_index"]:
            segments.append(Wildcard.INDEX)
        else:
            segments.append(json.loads(match["quoted"]))
        position = match.end()
    return tuple(segments)


def sensitive_paths(schema: Mapping[str, Any] | None) -> frozenset[str]:
    """The path patterns a chart's values schema marks secret (``writeOnly: true`` or ``format: password``).

    Subschemas are followed through properties, items, prefixItems, additionalProperties, patternProperties,
    allOf/anyOf/oneOf and local ``$ref`` s (``#/...``). A reference met again below itself (a recursive schema) is
    not followed, so the walk ends; if what it names holds a secret, the whole recursion is marked instead, which
    hides too much rather than too little. Below a sensitive node nothing more is looked for.
    """
    if not isinstance(schema, Mapping):
        return frozenset()
    walk = _SchemaWalk(schema)
    walk.visit(schema, (), frozenset())
    return frozenset(walk.found)


@dataclass
class _SchemaWalk:
    """One pass over a schema, collecting the patterns of its sensitive nodes."""

    root: Mapping[str, Any]
    probing: bool = False  # only asking whether a recursion holds a secret: do not probe it again
    found: set[str] = field(default_factory=set)

    def visit(self, node: Any, path: Pattern, refs: frozenset[str]) -> None:
        if not isinstance(node, Mapping):
            return  # a boolean schema, or a malformed one: nothing to mark
        if node.get("writeOnly") is True or node.get("format") == "password":
            self.found.add(format_path(path))
            return
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#"):
            self._follow(_resolve(self.root, ref), path, refs, ref)
        for key, subschema in as_mapping(node.get("properties")).items():
            self.visit(subschema, (*path, str(key)), refs)
        for subschema in (*as_mapping(node.get("patternProperties")).values(), node.get("additionalProperties")):
            self.visit(subschema, (*path, Wildcard.KEY), refs)
        items = node.get("items")
        positional = items if isinstance(items, list) else node.get("prefixItems")  # draft-07 tuples, or 2020-12
        for index, subschema in enumerate(positional if isinstance(positional, list) else ()):
            self.visit(subschema, (*path, index), refs)
        self.visit(items, (*path, Wildcard.INDEX), refs)
        for combinator in _COMBINATORS:
            for subschema in node.get(combinator) or ():
                self.visit(subschema, path, refs)

    def _follow(self, target: Any, path: Pattern, refs: frozenset[str], ref: str) -> None:
        if ref not in refs:
            self.visit(target, path, refs | {ref})
        elif not self.probing:  # the schema recurses here: hide the whole repetition rather than miss a secret
            probe = _SchemaWalk(self.root, probing=True)
            probe.visit(target, (), refs)
            if probe.found:
                self.found.add(format_path(path))


def _resolve(root: Mapping[str, Any], ref: str) -> Any:
    """The node a local JSON pointer (``#/$defs/auth``) names, or None when it names nothing."""
    node: Any = root
    for token in filter(None, ref[1:].split("/")):
        if not isinstance(node, Mapping):
            return None
        node = node.get(token.replace("~1", "/").replace("~0", "~"))
    return node


def diff_values(
    deployed: Mapping[str, Any] | None,
    desired: Mapping[str, Any] | None,
    *,
    sensitive_paths: Collection[str] = frozenset(),
    sensitive_key: re.Pattern[str] | None = SENSITIVE_KEY,
    show_secrets: bool = False,
) -> tuple[ValueChange, ...]:
    """Every leaf added, removed or changed, sorted by path (list indices numerically).

    Sensitive leaves are reported without their values. Other leaves that contain a secret of these values (a URL
    with a password in it) have it masked (see :mod:`reconcile.diff.mask`), unless ``show_secrets``.
    """
    old, new = _leaves(deployed), _leaves(desired)
    patterns = [parse_path(pattern) for pattern in sensitive_paths]
    masker = Masker([] if show_secrets else _secret_leaves((deployed, desired), patterns, sensitive_key))
    changes = []
    for path in sorted(old.keys() | new.keys(), key=_sort_key):
        before, after = old.get(path, _ABSENT), new.get(path, _ABSENT)
        if type(before) is type(after) and before == after:  # type too: 1, 1.0 and true all differ in YAML
            continue
        change: Change = "added" if before is _ABSENT else "removed" if after is _ABSENT else "changed"
        hidden = not show_secrets and _is_sensitive(path, patterns, sensitive_key)
        changes.append(
            ValueChange(
                path=format_path(path),
                change=change,
                old=None if hidden or before is _ABSENT else masker.tree(before),
                new=None if hidden or after is _ABSENT else masker.tree(after),
                redacted=hidden,
            )
        )
    return tuple(changes)


def secret_values(
    *values: Mapping[str, Any] | None,
    sensitive_paths: Collection[str] = frozenset(),
    sensitive_key: re.Pattern[str] | None = SENSITIVE_KEY,
) -> list[str]:
    """The text of every sensitive leaf, for masking wherever it is repeated (a manifest, a note).

    Short ones and booleans are left out, as in :func:`reconcile.redact.secret_strings`: masking ``1`` would mask
    every 1 and tell nothing.
    """
    return _secret_leaves(values, [parse_path(pattern) for pattern in sensitive_paths], sensitive_key)


def _secret_leaves(
    values: Sequence[Mapping[str, Any] | None], patterns: Sequence[Pattern], sensitive_key: re.Pattern[str] | None
) -> list[str]:
    return [
        str(leaf)
        for tree in values
        for path, leaf in _leaves(tree).items()
        if leaf is not None
        and not isinstance(leaf, bool | Mapping | list)
        and len(str(leaf)) >= SHORTEST_SECRET
        and _is_sensitive(path, patterns, sensitive_key)
    ]


def _leaves(values: Mapping[str, Any] | None) -> dict[Path, Any]:
    """Every leaf by path; an empty map or list is a leaf too, so that adding ``resources: {}`` shows."""
    return dict(_walk_values(values, ())) if values else {}


def _walk_values(value: Any, path: Path) -> Iterator[tuple[Path, Any]]:
    if isinstance(value, Mapping) and value:
        for key, item in value.items():
            yield from _walk_values(item, (*path, str(key)))
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            yield from _walk_values(item, (*path, index))
    else:
        yield path, value


def _is_sensitive(path: Path, patterns: Sequence[Pattern], sensitive_key: re.Pattern[str] | None) -> bool:
    if sensitive_key is not None and any(isinstance(key, str) and sensitive_key.search(key) for key in path):
        return True
    return any(len(pattern) <= len(path) and all(map(_covers, pattern, path)) for pattern in patterns)


def _covers(pattern: str | int | Wildcard, segment: str | int) -> bool:
    if pattern is Wildcard.KEY:
        return isinstance(segment, str)
    if pattern is Wildcard.INDEX:
        return isinstance(segment, int)
    return pattern == segment


def _sort_key(path: Path) -> tuple[tuple[int, int, str], ...]:
    return tuple((0, segment, "") if isinstance(segment, int) else (1, 0, segment) for segment in path)
