"""A structural schema inferred from values.yaml, for charts without values.schema.json (and the parts it omits).

Each value's YAML type becomes its type and the value its default; maps nest. Open nodes
(``x-kubernetes-preserve-unknown-fields``) are kept for what the chart leaves open: empty maps (``podAnnotations:
{}``; untyped, as charts use the same placeholder for lists), maps whose keys are not template identifiers
(``prometheus.io/scrape``: a free-form map), values the templates pass through whole, and nulls (a placeholder of
unknown type). Array items are the union of the samples.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from reconcile.scaffold.hints import Hints, ValuePath
from reconcile.scaffold.openapi import Node, any_value, is_closed_object, json_type, open_object

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ITEM = "[]"  # the path element of array items: templates cannot name them, so no hint ever matches


def infer(value: Any, path: ValuePath, hints: Hints) -> Node:
    """The node for one value of values.yaml, with that value as its default."""
    return _shape([value], path, hints, with_default=True)


def is_free_form(value: Mapping[str, Any]) -> bool:
    """A map whose keys templates cannot name (``.Values.a.b-c`` is not valid) is data, not structure."""
    return any(not IDENTIFIER.match(str(key)) for key in value)


def with_children_default(node: Node) -> Node:
    """A closed object gets ``default: {}`` when a child has a default, so the API server fills in the children of
    an object the CR leaves out (defaults apply only below a parent that exists)."""
    properties: Mapping[str, Node] = node.get("properties") or {}
    if is_closed_object(node) and not node.get("required") and any("default" in p for p in properties.values()):
        node["default"] = {}
    return node


def _shape(samples: Sequence[Any], path: ValuePath, hints: Hints, with_default: bool) -> Node:
    present = [sample for sample in samples if sample is not None]
    if not present:
        return any_value(nullable=True)
    types = {json_type(sample) for sample in present}
    if types == {"integer", "number"}:
        types = {"number"}
    if len(types) > 1:
        return any_value(nullable=len(present) < len(samples))
    (kind,) = types
    if kind == "object":
        node = _object(present, path, hints, with_default)
    elif kind == "array":
        items = [item for sample in present for item in sample]
        node = {"type": "array", "items": any_value() if hints.is_open(path) else _items(items, path, hints)}
    else:
        node = {"type": kind}
    if len(present) < len(samples):
        node["nullable"] = True
    if with_default and kind != "object" and present[0] != []:
        node["default"] = present[0]
    return node


def _items(items: Sequence[Any], path: ValuePath, hints: Hints) -> Node:
    return _shape(items, (*path, ITEM), hints, with_default=False) if items else any_value()


def _object(samples: Sequence[Mapping[str, Any]], path: ValuePath, hints: Hints, with_default: bool) -> Node:
    if not any(samples):
        return any_value()  # a placeholder: charts write ``tolerations: {}`` as often as ``[]``, so no type is known
    if hints.is_open(path) or any(is_free_form(sample) for sample in samples):
        free_form = open_object()
        if with_default and samples[0]:
            free_form["default"] = samples[0]
        return free_form
    names = sorted({str(key) for sample in samples for key in sample} | hints.children(path), key=_order(samples))
    properties = {
        name: _shape([s[name] for s in samples if name in s], (*path, name), hints, with_default)
        if any(name in s for s in samples)
        else any_value(nullable=True)
        for name in names
    }
    node: Node = {"type": "object", "properties": properties}
    return with_children_default(node) if with_default else node


def _order(samples: Sequence[Mapping[str, Any]]) -> Any:
    """values.yaml's own order (what its author chose to show first), then names only the templates use."""
    seen: dict[str, int] = {}
    for sample in samples:
        for key in sample:
            seen.setdefault(str(key), len(seen))
    return lambda name: (seen.get(name, len(seen)), name)
