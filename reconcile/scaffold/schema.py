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
- Defaults come from values.yaml (what helm uses; helm ignores the schema's ``default``), kept only where valid;
  the scaffold then leaves them out of the CRD unless asked (:func:`without_defaults` says why).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from reconcile.scaffold.hints import Hints, ValuePath
from reconcile.scaffold.infer import ITEM, infer, with_children_default
from reconcile.scaffold.openapi import (
    INT_OR_STRING,
    PRESERVE,
    Node,
    accepts,
    any_value,
    open_object,
)
from reconcile.scaffold.schema_keywords import (
    ANNOTATIONS,
    JUNCTORS,
    MISSING,
    SHAPE_KEYWORDS,
    fold,
    merge_all_of,
    node_types,
    pointer,
    value_checks,
)

MAX_SHOWN_DEFAULT = 80  # characters of JSON: longer defaults are for values.yaml to show, not a description


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
    """The same schema with no ``default`` anywhere (the scaffold's default, unless ``--defaults``).

    A default in the CRD is stored in each CR when it is created, so a later chart whose values.yaml changes it
    never reaches that CR; without them helm applies the chart's own defaults at every render. A short default is
    kept as words in the description, so ``kubectl explain`` still shows what the chart uses.
    """
    stripped = {key: value for key, value in node.items() if key != "default"}
    shown = json.dumps(node.get("default"), sort_keys=True)
    if "default" in node and node["default"] != {} and len(shown) <= MAX_SHOWN_DEFAULT:
        described = stripped.get("description", "").rstrip()
        stripped["description"] = f"{described}{' ' if described else ''}Chart default: {shown}."
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
        types, nullable = node_types(flat, value)
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
        node.update(value_checks(flat, node.get("type")))
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
                flat = merge_all_of(flat, self._flatten(member, ancestors))
        for junctor in JUNCTORS:
            alternatives = flat.pop(junctor, None)
            if isinstance(alternatives, list) and alternatives:
                branches = [self._flatten(a, ancestors) if isinstance(a, Mapping) else {} for a in alternatives]
                flat = fold(flat, junctor, branches)
        return flat

    def _resolve(self, schema: Mapping[str, Any], ancestors: tuple[str, ...]) -> dict[str, Any]:
        """Inline a ``$ref``; one already being expanded above (a recursive schema) takes any value instead."""
        reference = schema.get("$ref")
        rest = {key: value for key, value in schema.items() if key != "$ref"}
        if not isinstance(reference, str):
            return rest
        target = pointer(self.root, reference)
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
