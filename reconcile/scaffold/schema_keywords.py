"""JSON Schema keywords as a CRD can take them: a node's types, its value checks in OpenAPI 3.0 form, and the
folding of ``anyOf``/``oneOf``/``allOf`` into one structural shape (see :mod:`reconcile.scaffold.schema` for the
rules these implement).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from reconcile.scaffold.openapi import INT_OR_STRING, PRESERVE, SCALAR_TYPES, Node, json_type, type_matches

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


def node_types(flat: Mapping[str, Any], value: Any) -> tuple[set[str], bool]:
    """The node's types without null, and whether null is allowed."""
    declared = flat.get("type")
    types = set(type_list(declared))
    enum = enum_of(flat)
    nullable = "null" in types or flat.get("nullable") is True or (enum is not None and None in enum)
    types.discard("null")
    if flat.get(INT_OR_STRING):
        types = {"integer", "string"}
    if not types:
        types = implied_types(flat, value)
    if {"integer", "number"} <= types:
        types.discard("integer")
    return types, nullable


def implied_types(flat: Mapping[str, Any], value: Any = MISSING) -> set[str]:
    if any(key in flat for key in ("properties", "additionalProperties", "patternProperties", "required")):
        return {"object"}
    if "items" in flat:
        return {"array"}
    enum = enum_of(flat)
    if enum:
        return {json_type(item) for item in enum if item is not None}
    if value is not MISSING and value is not None:
        return {json_type(value)}
    return set()


def enum_of(flat: Mapping[str, Any]) -> list[Any] | None:
    if "const" in flat:
        return [flat["const"]]
    enum = flat.get("enum")
    return enum if isinstance(enum, list) else None


def value_checks(flat: Mapping[str, Any], kind: str | None) -> Node:
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
    enum = [item for item in enum_of(flat) or () if item is not None and type_matches(kind, item)]
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


def fold(flat: dict[str, Any], junctor: str, alternatives: list[dict[str, Any]]) -> dict[str, Any]:
    """anyOf/oneOf → value checks on one declared shape, or one merged shape when the alternatives differ."""
    kept = [alternative for alternative in alternatives if not _is_null_only(alternative)]
    if len(kept) < len(alternatives):
        flat["nullable"] = True
    if not kept:
        return flat
    types = node_types(flat, MISSING)[0] | {t for a in kept for t in type_list(a.get("type"))}
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
    checks = value_checks(alternative, kind)
    if kind == "object" and isinstance(alternative.get("required"), list):
        checks["required"] = alternative["required"]
    return checks


def _merge_alternatives(flat: dict[str, Any], alternatives: list[dict[str, Any]]) -> dict[str, Any]:
    """Either alternative holds, so their types and properties add up and none of their own checks survive."""
    merged = dict(flat)
    implied = [type_list(a.get("type")) or sorted(implied_types(a)) for a in alternatives]
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
    if all(enum_of(a) for a in alternatives) and "enum" not in flat:
        merged["enum"] = [item for a in alternatives for item in enum_of(a) or ()]
    return merged


def merge_all_of(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
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
    return schema.get("type") == "null" or enum_of(schema) == [None]


def type_list(declared: Any) -> list[str]:
    return [declared] if isinstance(declared, str) else [str(t) for t in declared or ()]


def pointer(root: Mapping[str, Any], reference: str) -> Mapping[str, Any] | None:
    """A JSON pointer into this document (``#/definitions/x``, ``#/$defs/x``); remote references are not followed."""
    if not reference.startswith("#"):
        return None
    node: Any = root
    for part in filter(None, reference[1:].split("/")):
        node = node.get(part.replace("~1", "/").replace("~0", "~")) if isinstance(node, Mapping) else None
    return node if isinstance(node, Mapping) else None
