"""overrideValues keys as helm --set paths, typed as --set types them, the way operator-sdk reads a watches.yaml."""

from __future__ import annotations

from typing import Any

import pytest

from reconcile.setpaths import nested


def fail(key: str, problem: str) -> Exception:
    return ValueError(f"{key} {problem}")


@pytest.mark.parametrize(
    ("overrides", "values"),
    [
        ({"memcached.verbosity": "vv"}, {"memcached": {"verbosity": "vv"}}),
        (
            {"replicaCount": "3", "on": "true", "off": "false", "none": "null"},
            {"replicaCount": 3, "on": True, "off": False, "none": None},
        ),
        ({"tag": "007", "ratio": "1.5", "neg": "-2"}, {"tag": "007", "ratio": "1.5", "neg": -2}),
        ({"args[0]": "a", "args[1]": "b"}, {"args": ["a", "b"]}),
        ({"env[1].name": "X"}, {"env": [None, {"name": "X"}]}),
        ({"podAnnotations.prometheus\\.io/scrape": "true"}, {"podAnnotations": {"prometheus.io/scrape": True}}),
        ({"hosts": "{a.example.com,b.example.com}"}, {"hosts": ["a.example.com", "b.example.com"]}),
        ({"image.tag": "v1", "image.repository": "r"}, {"image": {"tag": "v1", "repository": "r"}}),
    ],
)
def test_a_key_is_a_path_and_a_string_is_typed(overrides: dict[str, Any], values: dict[str, Any]) -> None:
    assert nested(overrides, True, fail) == values


def test_values_typed_by_yaml_stay_as_they_are() -> None:
    assert nested({"image.tag": "1", "replicas": 2}, False, fail) == {"image": {"tag": "1"}, "replicas": 2}


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [("a..b", "x", "is not a --set path"), ("a", "b,c=d", "holds a comma"), ("", "x", "empty --set path")],
)
def test_what_set_would_read_otherwise_is_refused(key: str, value: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        nested({key: value}, True, fail)
