"""Inference from values.yaml, and what the templates say about the values (read, or passed through whole)."""

from __future__ import annotations

from typing import Any

import pytest

from reconcile.scaffold.hints import Hints, template_hints
from reconcile.scaffold.infer import infer
from reconcile.scaffold.openapi import PRESERVE

NO_HINTS = Hints()
ANY_NULLABLE = {PRESERVE: True, "nullable": True}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("memcached", {"type": "string", "default": "memcached"}, id="string"),
        pytest.param("", {"type": "string", "default": ""}, id="empty-string"),
        pytest.param(3, {"type": "integer", "default": 3}, id="integer"),
        pytest.param(0.5, {"type": "number", "default": 0.5}, id="number"),
        pytest.param(False, {"type": "boolean", "default": False}, id="boolean-not-integer"),
        pytest.param(None, ANY_NULLABLE, id="null-is-a-placeholder"),
        pytest.param({}, {PRESERVE: True}, id="empty-map-is-a-placeholder-of-any-type"),
        pytest.param([], {"type": "array", "items": {PRESERVE: True}}, id="empty-list"),
        pytest.param(["a", "b"], {"type": "array", "items": {"type": "string"}, "default": ["a", "b"]}, id="strings"),
        pytest.param([1, 2.5], {"type": "array", "items": {"type": "number"}, "default": [1, 2.5]}, id="numbers"),
        pytest.param([1, "a"], {"type": "array", "items": {PRESERVE: True}, "default": [1, "a"]}, id="mixed-items"),
        pytest.param(
            ["a", None],
            {"type": "array", "items": {"type": "string", "nullable": True}, "default": ["a", None]},
            id="null-item",
        ),
        pytest.param(
            {"prometheus.io/scrape": "true"},
            {"type": "object", PRESERVE: True, "default": {"prometheus.io/scrape": "true"}},
            id="free-form-keys",
        ),
        pytest.param(
            {"tag": "1.0", "pullPolicy": None},
            {
                "type": "object",
                "properties": {"tag": {"type": "string", "default": "1.0"}, "pullPolicy": ANY_NULLABLE},
                "default": {},
            },
            id="nested",
        ),
        pytest.param(
            {"limits": None},
            {"type": "object", "properties": {"limits": ANY_NULLABLE}},
            id="no-default-object-when-no-child-has-one",
        ),
    ],
)
def test_inference(value: Any, expected: dict[str, Any]) -> None:
    assert infer(value, ("x",), NO_HINTS) == expected


def test_array_items_are_the_union_of_the_samples() -> None:
    env = [{"name": "A", "value": "1"}, {"name": "B", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]
    items = infer(env, ("env",), NO_HINTS)["items"]
    assert list(items["properties"]) == ["name", "value", "valueFrom"]
    assert "default" not in str(items), "items carry no defaults: the whole array is the default"


def test_properties_keep_the_order_of_values_yaml_then_names_only_templates_read() -> None:
    hints = template_hints(["{{ .Values.image.digest }}{{ .Values.image.pullPolicy }}"])
    node = infer({"tag": "1", "repository": "r"}, ("image",), hints)
    assert list(node["properties"]) == ["tag", "repository", "digest", "pullPolicy"]


@pytest.mark.parametrize(
    "template",
    [
        "{{- toYaml .Values.resources | nindent 12 }}",
        "{{ .Values.resources | toYaml | indent 4 }}",
        "{{ tpl (toYaml .Values.resources) . }}",
        "{{ toJson $.Values.resources }}",
        "{{- range $key, $value := .Values.resources }}{{ $key }}{{ end }}",
        "{{- with .Values.resources }}\nresources:\n  {{- toYaml . | nindent 2 }}\n{{- end }}",
        '{{ include "common.tplvalues.render" (dict "value" .Values.resources "context" $) }}',
    ],
)
def test_values_passed_through_whole_are_open(template: str) -> None:
    hints = template_hints([template])
    assert hints.is_open(("resources",))
    node = infer({"limits": {"memory": "1Gi"}}, ("resources",), hints)
    assert node == {"type": "object", PRESERVE: True, "default": {"limits": {"memory": "1Gi"}}}


def test_a_with_block_that_reads_fields_does_not_open_the_value() -> None:
    hints = template_hints(["{{- with .Values.image }}{{ .repository }}:{{ .tag }}{{- end }}"])
    assert not hints.is_open(("image",))


def test_template_comments_global_and_subcharts() -> None:
    hints = template_hints(["{{/* e.g. .Values.path.to.value */}}{{ .Values.real }}"], subcharts=["redis"])
    assert hints.children(()) == {"real", "redis"}
    assert hints.is_open(("redis",)) and hints.is_open(("global",))
