"""The OpenAPI v3 subset a CRD's structural schema is made of, and a check that a default satisfies a node.

The API server refuses a CRD whose defaults do not validate against their own node, so a default is only written
after :func:`accepts` said yes. The check covers exactly the keywords :mod:`reconcile.scaffold.schema` emits.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

Node = dict[str, Any]
PRESERVE = "x-kubernetes-preserve-unknown-fields"
INT_OR_STRING = "x-kubernetes-int-or-string"
SCALAR_TYPES = frozenset({"string", "integer", "number", "boolean"})


def any_value(nullable: bool = False) -> Node:
    """A node that takes any JSON value: what the chart leaves open, or what cannot be expressed structurally."""
    node: Node = {PRESERVE: True}
    if nullable:
        node["nullable"] = True
    return node


def open_object() -> Node:
    """An object whose keys nobody declared: a free-form map such as annotations or a pass-through block."""
    return {"type": "object", PRESERVE: True}


def json_type(value: Any) -> str:
    """The JSON Schema type name of a value from YAML (bool before int: True is an int in Python)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def type_matches(expected: str, value: Any) -> bool:
    actual = json_type(value)
    return actual == expected or (expected == "number" and actual == "integer")


def is_closed_object(node: Mapping[str, Any]) -> bool:
    """An object with declared properties and no room for others: one whose children carry the defaults."""
    return node.get("type") == "object" and "properties" in node and not node.get(PRESERVE)


def accepts(node: Mapping[str, Any], value: Any) -> bool:
    """Whether the API server would accept ``value`` at ``node``."""
    if value is None:
        return bool(node.get("nullable"))
    if node.get(INT_OR_STRING):
        return json_type(value) in ("integer", "string") and _checks_pass(node, value)
    expected = node.get("type")
    if expected is None:
        return bool(node.get(PRESERVE)) and _checks_pass(node, value)
    return type_matches(str(expected), value) and _checks_pass(node, value) and _children_pass(node, value)


def _checks_pass(node: Mapping[str, Any], value: Any) -> bool:
    if "enum" in node and value not in node["enum"]:
        return False
    if isinstance(value, str):
        return _string_passes(node, value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _number_passes(node, value)
    if isinstance(value, list):
        return bool(node.get("minItems", 0) <= len(value) <= node.get("maxItems", math.inf))
    if isinstance(value, dict):
        sized = node.get("minProperties", 0) <= len(value) <= node.get("maxProperties", math.inf)
        return bool(sized) and all(name in value for name in node.get("required", ()))
    return True


def _string_passes(node: Mapping[str, Any], value: str) -> bool:
    if not node.get("minLength", 0) <= len(value) <= node.get("maxLength", math.inf):
        return False
    return "pattern" not in node or re.search(node["pattern"], value) is not None


def _number_passes(node: Mapping[str, Any], value: float) -> bool:
    if "minimum" in node and (value < node["minimum"] or (node.get("exclusiveMinimum") and value == node["minimum"])):
        return False
    if "maximum" in node and (value > node["maximum"] or (node.get("exclusiveMaximum") and value == node["maximum"])):
        return False
    step = node.get("multipleOf")
    return not step or math.isclose(value / step, round(value / step))


def _children_pass(node: Mapping[str, Any], value: Any) -> bool:
    if isinstance(value, list):
        return all(accepts(node.get("items") or any_value(), item) for item in value)
    if not isinstance(value, dict):
        return True
    properties: Mapping[str, Any] = node.get("properties") or {}
    extra = node.get("additionalProperties")
    for name, child in value.items():
        if name in properties:
            if not accepts(properties[name], child):
                return False
        elif isinstance(extra, Mapping):
            if not accepts(extra, child):
                return False
        elif not node.get(PRESERVE):
            return False
    return True
