"""The CRD's ``spec`` schema: a chart's values.schema.json made structural, completed by inference from values.yaml.

A CRD takes a *structural* OpenAPI v3 schema: every node typed, no ``$ref``, no ``definitions``, logical junctors
(``anyOf``, ``oneOf``, ``allOf``, ``not``) only as extra value checks on a shape declared outside them. The rules,
in the order they apply (they make the CRD at most as strict as the chart, never stricter, except that keys
nobody declared are pruned; helm still checks the full values.schema.json at install):

- ``$ref`` to this document is inlined (a recursive one becomes "any value"); ``allOf`` members are merged.
- ``anyOf``/``oneOf`` made only of value checks (``required: [a]`` | ``required: [b]``) stay; alternatives of
  different shapes become one shape: the union of their types and properties, their own checks dropped. ``null``
  alternatives make the node nullable. ``not``, ``if``/``then``/``else`` are dropped.
- Types: a list with ``null`` is nullable; integer+string is ``x-kubernetes-int-or-string``; integer+number is
  number; any other mix, or no type at all, takes any value. An untyped node is typed from its keywords or from
  the value in values.yaml.
- Kept keywords: description, title, enum (its values of the right type), nullable, min/max (``exclusive*`` in
  the OpenAPI 3.0 boolean form), multipleOf, min/maxLength, pattern (unless RE2 cannot compile it), min/maxItems,
  min/maxProperties, required (only for keys values.yaml gives no default). Dropped: ``$schema``, ``$id``,
  ``definitions``, ``format`` (Kubernetes' format checks differ from JSON Schema's), ``uniqueItems``, examples,
  and editor hints such as ``form``, ``hidden``, ``render``.
- ``additionalProperties: false`` is what a structural schema does anyway; ``true`` or ``patternProperties`` keep
  unknown fields; a schema for additional properties alone becomes a map (``additionalProperties: {…}``).
- Objects the schema leaves open get the keys values.yaml has and the templates read, inferred
  (:mod:`reconcile.scaffold.infer`); values passed through by the templates are open at every depth.
- Defaults come from values.yaml (what helm uses; helm ignores the schema's ``default``), kept only where valid.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from reconcile.scaffold.hints import Hints, ValuePath
from reconcile.scaffold.infer import ITEM, infer, with_children_default
from reconcile.scaffold.openapi import (
    INT_OR_STRING,
    PRESERVE,
    SCALAR_TYPES,
    Node,
    accepts,
    any_value,
    json_type,
    open_object,
    type_matches,
)

MISSING: Any = object()  # "values.yaml has no such key", as opposed to a key set to null
JUNCTORS = ("anyOf", "oneOf")
ANNOTATIONS = ("description", "title")
NUMERIC_CHECKS = {
    "string": ("minLength", "maxLength"),
    "integer": ("minimum", "maximum", "multipleOf"),
    "number": ("minimum", "maximum", "multipleOf"),
    "array": ("minItems", "maxItems"),
    "object": ("minProperties", "maxProperties"),
    "boolean": (),
}
VALUE_CHECKS = frozenset(
    {"enum", "const", "pattern", "required", "exclusiveMinimum", "exclusiveMaximum"}.union(*NUMERIC_CHECKS.values())
)
SHAPE_KEYWORDS = frozenset(
    {"type", "properties", "items", "additionalProperties", "patternProperties", "$ref", "allOf", "not", PRESERVE}
    | {INT_OR_STRING, *JUNCTORS, *VALUE_CHECKS}
)
RE2_UNSUPPORTED = re.compile(r"\(\?[=!<]|\\[1-9]|\\k<")  # lookaround and backreferences: Go's regexp has neither


def spec_schema(
    values: Mapping[str, Any], json_schema: Mapping[str, Any] | None, hints: Hints
) -> tuple[Node, list[str]]:
    """The ``spec`` node and the warnings worth telling (defaults the chart's own schema rejects, refs cut)."""
    converter = _Converter(json_schema or {}, hints)
    node = converter.node(json_schema, dict(values), ())
    if node.get("type") != "object":
        converter.warnings.append("values.schema.json does not describe an object at the top: spec takes any object")
        node = open_object()
    return node, converter.warnings


def without_defaults(node: Node) -> Node:
    """The same schema with no ``default`` anywhere (``--no-defaults``)."""
    stripped = {key: value for key, value in node.items() if key != "default"}
    if "properties" in stripped:
        stripped["properties"] = {name: without_defaults(child) for name, child in stripped["properties"].items()}
    for key in ("items", "additionalProperties"):
        if isinstance(stripped.get(key), dict):
            stripped[key] = without_defaults(stripped[key])
    return stripped


class _Converter:
    """One walk over the chart's schema and its values side by side; ``$ref`` targets come from ``root``."""

    def __init__(self, root: Mapping[str, Any], hints: Hints) -> None:
        self.root = root
        self.hints = hints
        self.warnings: list[str] = []
        self._path_refs: list[str] = []  # the $refs this node and its ancestors were expanded from
        self._chain: list[str] = []  # the $refs being expanded into the current node right now

    def node(self, schema: Any, value: Any, path: ValuePath, inside_open: bool = False) -> Node:
        if not isinstance(schema, Mapping) or not SHAPE_KEYWORDS & schema.keys():
            return self._undescribed(value, path, inside_open)
        mark = len(self._path_refs)
        try:
            return self._described(self._flatten(schema, tuple(self._path_refs)), value, path, inside_open)
        finally:
            del self._path_refs[mark:]

    def _described(self, flat: Mapping[str, Any], value: Any, path: ValuePath, inside_open: bool) -> Node:
        types, nullable = _types(flat, value)
        is_open = inside_open or self.hints.is_open(path)
        node: Node
        if len(types) != 1:
            node = {INT_OR_STRING: True} if types == {"integer", "string"} else any_value()
        elif types == {"object"}:
            node = self._object(flat, value, path, is_open)
        elif types == {"array"}:
            node = self._array(flat, value, path, is_open)
        else:
            node = {"type": next(iter(types))}
        node.update({key: flat[key] for key in ANNOTATIONS if isinstance(flat.get(key), str)})
        node.update(_value_checks(flat, node.get("type")))
        if nullable:
            node["nullable"] = True
        return self._with_default(node, value, path)

    def _undescribed(self, value: Any, path: ValuePath, inside_open: bool) -> Node:
        """Not in the chart's schema: inferred from values.yaml; read only by templates: anything."""
        if value is MISSING:
            return any_value(nullable=True)
        if inside_open and isinstance(value, dict):
            return open_object()
        return infer(value, path, self.hints)

    def _object(self, flat: Mapping[str, Any], value: Any, path: ValuePath, is_open: bool) -> Node:
        declared: Mapping[str, Any] = flat.get("properties") or {}
        extra = flat.get("additionalProperties")
        patterns: Mapping[str, Any] = flat.get("patternProperties") or {}
        if not declared and (isinstance(extra, Mapping) or len(patterns) == 1):
            entry = extra if isinstance(extra, Mapping) else next(iter(patterns.values()))
            return {"type": "object", "additionalProperties": self.node(entry, MISSING, (*path, "*"), is_open)}
        values = value if isinstance(value, dict) else {}
        names = [name for name, schema in declared.items() if schema is not False]
        if extra is not False and not is_open:
            names += [str(key) for key in values if key not in declared]
            names += sorted(self.hints.children(path) - set(names))
        if not names:
            return open_object()
        node: Node = {
            "type": "object",
            "properties": {
                name: self.node(declared.get(name), values.get(name, MISSING), (*path, name), is_open) for name in names
            },
        }
        required = [name for name in flat.get("required") or () if name in names and values.get(name) is None]
        if required:
            node["required"] = required
        if is_open or extra is True or isinstance(extra, Mapping) or patterns or flat.get(PRESERVE):
            node[PRESERVE] = True
        return node

    def _array(self, flat: Mapping[str, Any], value: Any, path: ValuePath, is_open: bool) -> Node:
        items = flat.get("items")
        if isinstance(items, Mapping):
            return {"type": "array", "items": self.node(items, MISSING, (*path, ITEM), is_open)}
        if items is None and isinstance(value, list) and not is_open:
            inferred: Node = infer(value, path, self.hints)["items"]
            return {"type": "array", "items": inferred}
        return {"type": "array", "items": any_value()}

    def _with_default(self, node: Node, value: Any, path: ValuePath) -> Node:
        if value is MISSING or value is None or value == [] or value == {}:
            return node
        if node.get("type") == "object" and "properties" in node and not node.get(PRESERVE):
            return with_children_default(node)
        if accepts(node, value):
            node["default"] = copy.deepcopy(value)
        else:
            where = ".".join(path) or "the top level"
            self.warnings.append(f"values.yaml's {where} ({value!r}) does not satisfy the chart's schema: no default")
        return node

    # --- JSON Schema → one flat schema: refs inlined, allOf merged, anyOf/oneOf folded ------------------------------

    def _flatten(self, schema: Mapping[str, Any], ancestors: tuple[str, ...]) -> dict[str, Any]:
        flat = self._resolve(schema, ancestors)
        for member in flat.pop("allOf", None) or []:
            if isinstance(member, Mapping):
                flat = _merge_all_of(flat, self._flatten(member, ancestors))
        for junctor in JUNCTORS:
            alternatives = flat.pop(junctor, None)
            if isinstance(alternatives, list) and alternatives:
                branches = [self._flatten(a, ancestors) if isinstance(a, Mapping) else {} for a in alternatives]
                flat = _fold(flat, junctor, branches)
        return flat

    def _resolve(self, schema: Mapping[str, Any], ancestors: tuple[str, ...]) -> dict[str, Any]:
        """Inline a ``$ref``; one already being expanded above (a recursive schema) takes any value instead."""
        reference = schema.get("$ref")
        rest = {key: value for key, value in schema.items() if key != "$ref"}
        if not isinstance(reference, str):
            return rest
        target = _pointer(self.root, reference)
        if reference in ancestors or reference in self._chain or target is None:
            why = "refers to itself" if target is not None else "cannot be resolved inside values.schema.json"
            self.warnings.append(f"{reference} {why}: that part of spec takes any value")
            return {PRESERVE: True, **rest}
        self._chain.append(reference)
        try:
            resolved = {**self._flatten(target, ancestors), **rest}
        finally:
            self._chain.pop()
        self._path_refs.append(reference)
        return resolved


def _types(flat: Mapping[str, Any], value: Any) -> tuple[set[str], bool]:
    """The node's types without null, and whether null is allowed."""
    declared = flat.get("type")
    types = set(_type_list(declared))
    enum = _enum(flat)
    nullable = "null" in types or flat.get("nullable") is True or (enum is not None and None in enum)
    types.discard("null")
    if flat.get(INT_OR_STRING):
        types = {"integer", "string"}
    if not types:
        types = _implied_types(flat, value)
    if {"integer", "number"} <= types:
        types.discard("integer")
    return types, nullable


def _implied_types(flat: Mapping[str, Any], value: Any = MISSING) -> set[str]:
    if any(key in flat for key in ("properties", "additionalProperties", "patternProperties", "required")):
        return {"object"}
    if "items" in flat:
        return {"array"}
    enum = _enum(flat)
    if enum:
        return {json_type(item) for item in enum if item is not None}
    if value is not MISSING and value is not None:
        return {json_type(value)}
    return set()


def _enum(flat: Mapping[str, Any]) -> list[Any] | None:
    if "const" in flat:
        return [flat["const"]]
    enum = flat.get("enum")
    return enum if isinstance(enum, list) else None


def _value_checks(flat: Mapping[str, Any], kind: str | None) -> Node:
    """The checks that make sense for the node's type, in the OpenAPI 3.0 form a CRD takes."""
    if kind is None:
        return {junctor: flat[junctor] for junctor in JUNCTORS if junctor in flat}
    checks: Node = {
        key: flat[key]
        for key in NUMERIC_CHECKS[kind]
        if isinstance(flat.get(key), int | float) and not isinstance(flat[key], bool)
    }
    if kind in ("integer", "number"):
        checks.update(_exclusive_bounds(flat))
    if kind == "string" and _re2_compatible(flat.get("pattern")):
        checks["pattern"] = flat["pattern"]
    enum = [item for item in _enum(flat) or () if item is not None and type_matches(kind, item)]
    if enum and kind in SCALAR_TYPES:
        checks["enum"] = enum
    checks.update({junctor: flat[junctor] for junctor in JUNCTORS if junctor in flat})
    return checks


def _exclusive_bounds(flat: Mapping[str, Any]) -> Node:
    """Draft-06+ gives an exclusive bound as a number; OpenAPI 3.0 (and so a CRD) as a flag on minimum/maximum."""
    bounds: Node = {}
    for exclusive, inclusive in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        value = flat.get(exclusive)
        if isinstance(value, bool):
            if value and inclusive in flat:
                bounds[exclusive] = True
        elif isinstance(value, int | float):
            bounds.update({inclusive: value, exclusive: True})
    return bounds


def _re2_compatible(pattern: Any) -> bool:
    if not isinstance(pattern, str) or RE2_UNSUPPORTED.search(pattern):
        return False
    try:
        re.compile(pattern)
    except re.error:
        return False
    return True


def _fold(flat: dict[str, Any], junctor: str, alternatives: list[dict[str, Any]]) -> dict[str, Any]:
    """anyOf/oneOf → value checks on one declared shape, or one merged shape when the alternatives differ."""
    kept = [alternative for alternative in alternatives if not _is_null_only(alternative)]
    if len(kept) < len(alternatives):
        flat["nullable"] = True
    if not kept:
        return flat
    types = _types(flat, MISSING)[0] | {t for a in kept for t in _type_list(a.get("type"))}
    checks_only = all(set(a) <= VALUE_CHECKS | {"type", *ANNOTATIONS} for a in kept)
    if checks_only and len(types) == 1:
        kind = next(iter(types))
        checks = [_alternative_checks(alternative, kind) for alternative in kept]
        if all(checks):  # an alternative without checks accepts everything: the junctor would say nothing
            flat[junctor] = checks
        return {**flat, "type": kind}
    return _merge_alternatives(flat, kept)


def _alternative_checks(alternative: Mapping[str, Any], kind: str) -> Node:
    """A junctor's branch keeps only value checks; ``required`` is one too (``required: [a]`` | ``required: [b]``)."""
    checks = _value_checks(alternative, kind)
    if kind == "object" and isinstance(alternative.get("required"), list):
        checks["required"] = alternative["required"]
    return checks


def _merge_alternatives(flat: dict[str, Any], alternatives: list[dict[str, Any]]) -> dict[str, Any]:
    """Either alternative holds, so their types and properties add up and none of their own checks survive."""
    merged = dict(flat)
    implied = [_type_list(a.get("type")) or sorted(_implied_types(a)) for a in alternatives]
    if "type" not in flat and all(implied):
        merged["type"] = sorted({t for types in implied for t in types})
    properties: dict[str, Any] = {}
    for alternative in alternatives:
        for name, schema in (alternative.get("properties") or {}).items():
            properties[name] = {"anyOf": [properties[name], schema]} if name in properties else schema
    if properties:
        merged["properties"] = {**properties, **(flat.get("properties") or {})}
    items = [a["items"] for a in alternatives if isinstance(a.get("items"), Mapping)]
    if items and "items" not in flat:
        merged["items"] = items[0] if len(items) == 1 else {"anyOf": items}
    if any(a.get("additionalProperties") not in (None, False) for a in alternatives):
        merged.setdefault("additionalProperties", True)
    if all(_enum(a) for a in alternatives) and "enum" not in flat:
        merged["enum"] = [item for a in alternatives for item in _enum(a) or ()]
    return merged


def _merge_all_of(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """Both hold, so properties and required add up; on any other keyword both set, the first is kept."""
    merged = dict(base)
    for key, value in extra.items():
        if key == "properties" and isinstance(merged.get(key), Mapping):
            mine = merged[key]
            merged[key] = {**mine, **{n: {"allOf": [mine[n], s]} if n in mine else s for n, s in value.items()}}
        elif key == "required":
            merged[key] = list(dict.fromkeys([*(merged.get(key) or []), *value]))
        else:
            merged.setdefault(key, value)
    return merged


def _is_null_only(schema: Mapping[str, Any]) -> bool:
    return schema.get("type") == "null" or _enum(schema) == [None]


def _type_list(declared: Any) -> list[str]:
    return [declared] if isinstance(declared, str) else [str(t) for t in declared or ()]


def _pointer(root: Mapping[str, Any], reference: str) -> Mapping[str, Any] | None:
    """A JSON pointer into this document (``#/definitions/x``, ``#/$defs/x``); remote references are not followed."""
    if not reference.startswith("#"):
        return None
    node: Any = root
    for part in filter(None, reference[1:].split("/")):
        node = node.get(part.replace("~1", "/").replace("~0", "~")) if isinstance(node, Mapping) else None
    return node if isinstance(node, Mapping) else None
