"""values.schema.json → a structural CRD schema: one row per rule, the tricky cases included.

Every schema produced here is also checked against the structural rules the API server enforces, and (by
hypothesis) inference is shown to accept any values.yaml it was inferred from, defaults included.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconcile.scaffold.hints import Hints, template_hints
from reconcile.scaffold.openapi import INT_OR_STRING, PRESERVE, accepts
from reconcile.scaffold.schema import spec_schema, without_defaults

NO_HINTS = Hints()
FORBIDDEN = {"$ref", "$schema", "$id", "definitions", "$defs", "format", "uniqueItems", "patternProperties", "not"}
JUNCTOR_FORBIDDEN = {"type", "default", "description", "nullable", "additionalProperties", PRESERVE, "title"}


def assert_structural(node: Mapping[str, Any], where: str = "spec") -> None:
    """The API server's structural-schema rules, for the keywords scaffold emits."""
    assert not FORBIDDEN & node.keys(), f"{where}: {FORBIDDEN & node.keys()}"
    assert "type" in node or node.get(PRESERVE) or node.get(INT_OR_STRING), f"{where} has no type"
    if node.get("type") == "array":
        assert "items" in node, f"{where}: an array needs items"
    assert not ("properties" in node and "additionalProperties" in node), f"{where}: properties and a map"
    for junctor in ("anyOf", "oneOf", "allOf"):
        for branch in node.get(junctor, ()):
            assert not JUNCTOR_FORBIDDEN & branch.keys(), f"{where}.{junctor}: {JUNCTOR_FORBIDDEN & branch.keys()}"
    if "default" in node:
        assert accepts(node, node["default"]), f"{where}: default {node['default']!r} is not valid"
    for name, child in (node.get("properties") or {}).items():
        assert_structural(child, f"{where}.{name}")
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            assert_structural(node[key], f"{where}.{key}")


def convert(schema: Mapping[str, Any] | None, values: Mapping[str, Any], hints: Hints = NO_HINTS) -> dict[str, Any]:
    node, _ = spec_schema(values, schema, hints)
    assert_structural(node)
    return node


def prop(schema: Mapping[str, Any], values: Mapping[str, Any] | None = None, name: str = "x") -> dict[str, Any]:
    """The node for property ``x`` of ``{"type": "object", "properties": {"x": schema}}``."""
    root = {"type": "object", "properties": {name: schema}}
    properties: dict[str, Any] = convert(root, values or {})["properties"]
    return dict(properties[name])


@pytest.mark.parametrize(
    ("schema", "value", "expected"),
    [
        pytest.param({"type": "integer", "minimum": 0}, 1, {"type": "integer", "minimum": 0, "default": 1}, id="kept"),
        pytest.param(
            {"type": "string", "title": "T", "form": True, "hidden": {"value": "x"}, "render": "slider"},
            None,
            {"type": "string", "title": "T"},
            id="editor-hints-dropped",
        ),
        pytest.param({"type": "string", "format": "email"}, None, {"type": "string"}, id="format-dropped"),
        pytest.param({"type": ["string", "null"]}, None, {"type": "string", "nullable": True}, id="type-list-null"),
        pytest.param({"type": ["integer", "string"]}, 8080, {INT_OR_STRING: True, "default": 8080}, id="int-or-str"),
        pytest.param({"type": ["integer", "number"]}, None, {"type": "number"}, id="integer-number"),
        pytest.param({"type": ["boolean", "string"]}, None, {PRESERVE: True}, id="other-mix-is-any"),
        pytest.param({"const": "fixed"}, None, {"type": "string", "enum": ["fixed"]}, id="const"),
        pytest.param({"enum": ["a", True, None]}, None, {PRESERVE: True, "nullable": True}, id="enum-of-mixed-types"),
        pytest.param({"enum": ["a", 1]}, None, {INT_OR_STRING: True}, id="enum-of-int-or-string"),
        pytest.param(
            {"enum": ["a", "b", None]},
            "a",
            {"type": "string", "enum": ["a", "b"], "nullable": True, "default": "a"},
            id="enum-null",
        ),
        pytest.param(
            {"type": "number", "exclusiveMinimum": 0},
            None,
            {"type": "number", "minimum": 0, "exclusiveMinimum": True},
            id="exclusive-draft6",
        ),
        pytest.param(
            {"type": "number", "minimum": 1, "exclusiveMinimum": True},
            None,
            {"type": "number", "minimum": 1, "exclusiveMinimum": True},
            id="exclusive-openapi3",
        ),
        pytest.param({"type": "string", "pattern": "^(?!x).*$"}, None, {"type": "string"}, id="lookahead-not-re2"),
        pytest.param(
            {"type": "string", "pattern": "^[a-z]+$"},
            "abc",
            {"type": "string", "pattern": "^[a-z]+$", "default": "abc"},
            id="pattern",
        ),
        pytest.param(
            {"type": "array", "uniqueItems": True, "items": {"type": "string"}},
            None,
            {"type": "array", "items": {"type": "string"}},
            id="unique-items-dropped",
        ),
        pytest.param(
            {"type": "array", "items": [{"type": "string"}]},
            None,
            {"type": "array", "items": {PRESERVE: True}},
            id="tuple-items-any",
        ),
        pytest.param(
            {"type": "array"},
            [1, 2],
            {"type": "array", "items": {"type": "integer"}, "default": [1, 2]},
            id="items-inferred",
        ),
        pytest.param(
            {"type": "integer", "maximum": 3}, 5, {"type": "integer", "maximum": 3}, id="invalid-default-dropped"
        ),
        pytest.param({}, "v", {"type": "string", "default": "v"}, id="empty-schema-is-inferred"),
        pytest.param(
            {"description": "only words"}, 2, {"type": "integer", "default": 2}, id="annotation-only-inferred"
        ),
        pytest.param(
            {"type": "object", "additionalProperties": {"type": "string"}},
            {"a": "b"},
            {"type": "object", "additionalProperties": {"type": "string"}, "default": {"a": "b"}},
            id="map",
        ),
        pytest.param(
            {"type": "object", "patternProperties": {"^x-": {"type": "integer"}}},
            None,
            {"type": "object", "additionalProperties": {"type": "integer"}},
            id="one-pattern-is-a-map",
        ),
        pytest.param({"type": "object"}, None, {"type": "object", PRESERVE: True}, id="empty-object-open"),
        pytest.param(
            {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": False},
            {"a": "x", "b": "y"},
            {"type": "object", "properties": {"a": {"type": "string", "default": "x"}}, "default": {}},
            id="closed-object-ignores-extra-values",
        ),
        pytest.param(
            {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": True},
            None,
            {"type": "object", "properties": {"a": {"type": "string"}}, PRESERVE: True},
            id="additional-true-preserves",
        ),
        pytest.param(
            {
                "type": "object",
                "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
                "required": ["a", "b"],
            },
            {"a": "x"},
            {
                "type": "object",
                "properties": {"a": {"type": "string", "default": "x"}, "b": {"type": "string"}},
                "required": ["b"],
            },
            id="required-only-without-default",
        ),
    ],
)
def test_keyword_rules(schema: dict[str, Any], value: Any, expected: dict[str, Any]) -> None:
    assert prop(schema, {} if value is None else {"x": value}) == expected


def test_refs_are_inlined_and_a_recursive_ref_takes_any_value() -> None:
    schema = {
        "type": "object",
        "definitions": {
            "port": {"type": "integer", "maximum": 65535},
            "tree": {"type": "object", "properties": {"child": {"$ref": "#/definitions/tree"}}},
        },
        "properties": {"port": {"$ref": "#/definitions/port"}, "tree": {"$ref": "#/definitions/tree"}},
    }
    node, warnings = spec_schema({"port": 80}, schema, NO_HINTS)
    assert_structural(node)
    assert node["properties"]["port"] == {"type": "integer", "maximum": 65535, "default": 80}
    tree = node["properties"]["tree"]
    assert tree["properties"]["child"] == {PRESERVE: True}
    assert warnings == ["#/definitions/tree refers to itself: that part of spec takes any value"]


def test_a_remote_ref_is_not_followed() -> None:
    node, warnings = spec_schema({}, {"type": "object", "properties": {"x": {"$ref": "https://x/y.json"}}}, NO_HINTS)
    assert node["properties"]["x"] == {PRESERVE: True}
    assert "cannot be resolved" in warnings[0]


def test_all_of_members_are_merged() -> None:
    schema = {
        "allOf": [
            {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]},
            {"properties": {"a": {"minimum": 1}, "b": {"type": "boolean"}}, "required": ["b"]},
        ]
    }
    assert prop(schema) == {
        "type": "object",
        "properties": {"a": {"type": "integer", "minimum": 1}, "b": {"type": "boolean"}},
        "required": ["a", "b"],
    }


def test_any_of_integer_or_string_is_int_or_string() -> None:
    assert prop({"anyOf": [{"type": "integer"}, {"type": "string"}]}, {"x": "1Gi"}) == {
        INT_OR_STRING: True,
        "default": "1Gi",
    }


def test_one_of_with_null_makes_the_node_nullable() -> None:
    assert prop({"oneOf": [{"type": "null"}, {"type": "string", "maxLength": 3}]}) == {
        "type": "string",
        "nullable": True,
        "oneOf": [{"maxLength": 3}],
    }


def test_junctors_of_pure_value_checks_stay_as_checks_on_one_shape() -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
        "anyOf": [{"required": ["a"]}, {"required": ["b"]}],
    }
    assert prop(schema)["anyOf"] == [{"required": ["a"]}, {"required": ["b"]}]


def test_alternatives_of_different_shapes_become_one_shape_without_their_checks() -> None:
    schema = {
        "oneOf": [
            {"type": "object", "properties": {"host": {"type": "string"}}, "required": ["host"]},
            {"type": "object", "properties": {"socket": {"type": "string", "minLength": 1}}},
        ]
    }
    assert prop(schema) == {
        "type": "object",
        "properties": {"host": {"type": "string"}, "socket": {"type": "string", "minLength": 1}},
    }


def test_a_property_schema_of_true_is_inferred_and_false_is_left_out() -> None:
    schema = {"type": "object", "properties": {"any": True, "never": False}}
    assert prop(schema, {"x": {"any": 3}}) == {
        "type": "object",
        "properties": {"any": {"type": "integer", "default": 3}},
        "default": {},
    }


def test_keys_the_schema_leaves_out_are_inferred_from_values_and_templates() -> None:
    schema = {"type": "object", "properties": {"replicaCount": {"type": "integer"}}}
    hints = template_hints(["{{ .Values.nameOverride }} {{ .Values.image.tag }}"])
    node = convert(schema, {"replicaCount": 1, "image": {"tag": "1.0"}}, hints)
    assert node["properties"] == {
        "replicaCount": {"type": "integer", "default": 1},
        "image": {"type": "object", "properties": {"tag": {"type": "string", "default": "1.0"}}, "default": {}},
        "nameOverride": {PRESERVE: True, "nullable": True},
    }


def test_a_value_the_templates_pass_through_is_open_at_every_depth() -> None:
    schema = {
        "type": "object",
        "properties": {"resources": {"type": "object", "properties": {"requests": {"type": "object"}}}},
    }
    hints = template_hints(["{{ toYaml .Values.resources | nindent 4 }}"])
    resources = convert(schema, {"resources": {"requests": {"cpu": "1"}}}, hints)["properties"]["resources"]
    assert resources[PRESERVE] is True
    assert resources["properties"]["requests"][PRESERVE] is True
    assert resources["default"] == {"requests": {"cpu": "1"}}


def test_a_schema_that_is_not_an_object_at_the_top_gives_an_open_spec() -> None:
    node, warnings = spec_schema({}, {"type": "string"}, NO_HINTS)
    assert node == {"type": "object", PRESERVE: True}
    assert "does not describe an object" in warnings[0]


def test_without_defaults_strips_every_default() -> None:
    node = convert(None, {"a": {"b": [1]}, "c": "x", "d": {"e/f": 1}})
    stripped = without_defaults(node)
    assert "'default'" not in str(stripped)
    assert stripped["properties"]["a"]["properties"]["b"] == {
        "type": "array",
        "items": {"type": "integer"},
        "description": "Chart default: [1].",
    }


def test_without_defaults_shows_short_defaults_in_the_description_and_leaves_long_ones_to_values_yaml() -> None:
    node = convert(None, {"tag": "1.6", "long": "x" * 100})
    node["properties"]["tag"]["description"] = "The image tag."
    stripped = without_defaults(node)["properties"]
    assert stripped["tag"] == {"type": "string", "description": 'The image tag. Chart default: "1.6".'}
    assert stripped["long"] == {"type": "string"}


JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**53), 2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=5),
)
KEYS = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,6}", fullmatch=True) | st.sampled_from(["a.b/c", "x-y"])
VALUES = st.recursive(
    JSON_SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=4), max_leaves=20
)


@given(st.dictionaries(KEYS, VALUES, max_size=5))
def test_inference_accepts_the_values_it_was_inferred_from_and_every_default_is_valid(values: dict[str, Any]) -> None:
    node = convert(None, values)
    assert accepts(node, values)
