from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconcile.diff import ValueChange, diff_values, sensitive_paths
from reconcile.diff.values import Wildcard, format_path, parse_path, secret_values


def test_values_diff_reports_added_removed_and_changed_leaves_by_path() -> None:
    deployed = {"image": {"tag": "1.0", "pullPolicy": "Always"}, "replicaCount": 1, "tolerations": [{"operator": "a"}]}
    desired = {"image": {"tag": "1.1"}, "replicaCount": 1, "tolerations": [{"operator": "b"}], "nodeSelector": {}}

    assert diff_values(deployed, desired) == (
        ValueChange("image.pullPolicy", "removed", old="Always", new=None),
        ValueChange("image.tag", "changed", old="1.0", new="1.1"),
        ValueChange("nodeSelector", "added", old=None, new={}),
        ValueChange("tolerations[0].operator", "changed", old="a", new="b"),
    )


def test_an_install_adds_every_leaf_and_an_uninstall_removes_them() -> None:
    values = {"resources": {"limits": {"cpu": "500m"}}, "args": ["--verbose"]}

    assert [(c.path, c.change) for c in diff_values(None, values)] == [
        ("args[0]", "added"),
        ("resources.limits.cpu", "added"),
    ]
    assert [(c.path, c.change) for c in diff_values(values, {})] == [
        ("args[0]", "removed"),
        ("resources.limits.cpu", "removed"),
    ]
    assert diff_values(None, None) == diff_values(values, values) == ()


@pytest.mark.parametrize(
    ("old", "new"),
    [(1, 1.0), (1, True), (0, False), ("1", 1), ("", None), ({}, []), ({}, None)],
)
def test_values_equal_in_python_but_not_in_yaml_are_changes(old: Any, new: Any) -> None:
    assert diff_values({"x": old}, {"x": new}) == (ValueChange("x", "changed", old=old, new=new),)


def test_paths_are_sorted_with_list_indices_in_numeric_order() -> None:
    desired = {"b": list(range(11)), "a": {"z": 1, "y": 2}, "B": 0}

    paths = [change.path for change in diff_values({}, desired)]

    assert paths == ["B", "a.y", "a.z", *(f"b[{i}]" for i in range(11))]


def test_a_leaf_turning_into_a_map_is_a_removal_and_additions() -> None:
    changes = diff_values({"ingress": False}, {"ingress": {"enabled": True, "host": "x"}})

    assert [(c.path, c.change) for c in changes] == [
        ("ingress", "removed"),
        ("ingress.enabled", "added"),
        ("ingress.host", "added"),
    ]


def test_keys_that_are_not_identifiers_are_quoted() -> None:
    changes = diff_values({}, {"podAnnotations": {"prometheus.io/scrape": "true", "*": 1, "": 2, "1": 3}})

    assert [c.path for c in changes] == [
        'podAnnotations[""]',
        'podAnnotations["*"]',
        'podAnnotations["1"]',
        'podAnnotations["prometheus.io/scrape"]',
    ]


segments = st.one_of(
    st.text(max_size=8),
    st.integers(min_value=0, max_value=10_000),
    st.sampled_from([Wildcard.KEY, Wildcard.INDEX]),
)


@given(st.lists(segments, max_size=6).map(tuple))
def test_a_formatted_path_parses_back_to_its_segments(path: tuple[str | int | Wildcard, ...]) -> None:
    assert parse_path(format_path(path)) == path


@pytest.mark.parametrize("text", [".a", "a..b", "a.", "a[", "[x]", "a b", "a.[0]", "a[-1]", '["unclosed]'])
def test_malformed_paths_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a key path"):
        parse_path(text)


def _schema(**properties: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties}


SECRET = {"type": "string", "writeOnly": True}
PASSWORD = {"type": "string", "format": "password"}


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        (_schema(auth=_schema(rootPassword=SECRET, user={"type": "string"})), {"auth.rootPassword"}),
        (_schema(db=PASSWORD), {"db"}),
        (_schema(users={"type": "array", "items": _schema(token=SECRET)}), {"users[*].token"}),
        (_schema(pair={"prefixItems": [{"type": "string"}, PASSWORD]}), {"pair[1]"}),
        (_schema(pair={"items": [PASSWORD]}), {"pair[0]"}),
        (_schema(env={"type": "object", "additionalProperties": SECRET}), {"env.*"}),
        (_schema(env={"patternProperties": {"^X_": _schema(v=SECRET)}}), {"env.*.v"}),
        (_schema(a={"allOf": [_schema(b=SECRET)]}, c={"anyOf": [PASSWORD]}, d={"oneOf": [SECRET]}), {"a.b", "c", "d"}),
        ({"$defs": {"cred": _schema(key=SECRET)}, **_schema(x={"$ref": "#/$defs/cred"})}, {"x.key"}),
        ({"definitions": {"a/b": SECRET}, **_schema(x={"$ref": "#/definitions/a~1b"})}, {"x"}),
        (_schema(**{"prometheus.io/token": SECRET}), {'["prometheus.io/token"]'}),
        (_schema(whole={"type": "object", "writeOnly": True, "properties": {"inner": SECRET}}), {"whole"}),
        (SECRET, {""}),
    ],
)
def test_sensitive_paths_are_found_through_every_kind_of_subschema(schema: dict[str, Any], expected: set[str]) -> None:
    assert sensitive_paths(schema) == expected


@pytest.mark.parametrize(
    "schema",
    [
        None,
        {},
        True,
        _schema(a={"writeOnly": False}, b={"format": "email"}, c={"$ref": "#/nowhere"}, d={"$ref": "other.json"}),
        _schema(a={"properties": "not a map", "items": 3, "allOf": None, "additionalProperties": True}),
    ],
)
def test_schemas_without_secrets_or_malformed_mark_nothing(schema: Any) -> None:
    assert sensitive_paths(schema) == frozenset()


def test_recursive_schemas_end_hiding_the_whole_recursion_when_it_holds_a_secret() -> None:
    schema: dict[str, Any] = {"$defs": {"node": _schema(children={"items": {"$ref": "#/$defs/node"}}, pin=SECRET)}}
    schema["$ref"] = "#/$defs/node"

    assert sensitive_paths(schema) == {"pin", "children[*]"}
    schema["$defs"]["node"]["properties"].pop("pin")
    assert sensitive_paths(schema) == frozenset()


def test_sensitive_values_are_reported_without_their_content() -> None:
    deployed = {"auth": {"rootPassword": "old-secret"}, "users": [{"name": "a", "token": "tok-1234"}]}
    desired = {"auth": {"rootPassword": "new-secret"}, "users": [{"name": "b", "token": "tok-5678"}]}

    changes = diff_values(deployed, desired, sensitive_paths={"users[*].token"}, sensitive_key=None)

    assert changes == (
        ValueChange("auth.rootPassword", "changed", old="old-secret", new="new-secret"),
        ValueChange("users[0].name", "changed", old="a", new="b"),
        ValueChange("users[0].token", "changed", old=None, new=None, redacted=True),
    )


def test_sensitive_keys_hide_everything_below_them_by_default() -> None:
    changes = diff_values({}, {"auth": {"user": "admin", "enabled": True}, "apiKey": "k-123456", "image": "x"})

    assert [(c.path, c.redacted, c.new) for c in changes] == [
        ("apiKey", True, None),
        ("auth.enabled", True, None),
        ("auth.user", True, None),
        ("image", False, "x"),
    ]


def test_the_sensitive_key_pattern_is_configurable() -> None:
    changes = diff_values({}, {"auth": "a-b-c-d", "pin": "0000-1111"}, sensitive_key=re.compile("^pin$"))

    assert [(c.path, c.redacted) for c in changes] == [("auth", False), ("pin", True)]


def test_a_map_marked_sensitive_covers_its_entries() -> None:
    changes = diff_values({}, {"env": {"A": "1", "B": {"c": "2"}}, "other": "3"}, sensitive_paths={"env.*"})

    assert [(c.path, c.redacted) for c in changes] == [("env.A", True), ("env.B.c", True), ("other", False)]


def test_show_secrets_reveals_sensitive_values() -> None:
    changes = diff_values({}, {"password": "hunter22"}, sensitive_paths={"password"}, show_secrets=True)

    assert changes == (ValueChange("password", "added", old=None, new="hunter22"),)


def test_a_secret_repeated_in_an_ordinary_value_is_masked_there() -> None:
    values = {"db": {"password": "hunter22"}, "url": "postgres://u:hunter22@db", "short": {"token": "abc"}}

    changes = diff_values({}, values)

    assert ValueChange("url", "added", old=None, new="postgres://u:(secret 1)@db") in changes
    assert secret_values(values) == ["hunter22"]  # "abc" is too short to mask anywhere


def test_secret_values_come_from_both_sides_and_from_schema_paths() -> None:
    found = secret_values(
        {"a": {"pin": "11112222"}, "n": 12345678},
        {"a": {"pin": "33334444"}, "flag": True},
        sensitive_paths={"a.pin", "n", "flag"},
        sensitive_key=None,
    )

    assert found == ["11112222", "12345678", "33334444"]
