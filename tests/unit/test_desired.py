"""From a raw CR to what it asks for: values, release key, digest, or why it cannot be acted on."""

from __future__ import annotations

from typing import Any

import pytest

from reconcile.desired import desired_from_resource, merge_values
from reconcile.settings import Watch
from tests.unit.factories import CHART

WATCH = Watch(
    group="anywhere.io", version="v1alpha1", kind="Memcached", chart="/c", override_values={"image": {"tag": "1.6"}}
)


def cr(spec: Any = None, name: str = "cache", namespace: str = "team-a", **metadata: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "metadata": {"name": name, "namespace": namespace, "uid": "u1", "generation": 2, **metadata}
    }
    if spec is not None:
        resource["spec"] = spec
    return resource


def test_values_are_the_spec_with_overrides_winning() -> None:
    desired = desired_from_resource(cr({"replicaCount": 3, "image": {"tag": "latest", "repo": "m"}}), WATCH, CHART)
    assert desired.values == {"replicaCount": 3, "image": {"tag": "1.6", "repo": "m"}}
    assert (str(desired.key), desired.generation, desired.invalid) == ("team-a/cache", 2, "")


def test_digest_changes_with_values_chart_and_release_but_not_key_order() -> None:
    base = desired_from_resource(cr({"a": 1, "b": 2}), WATCH, CHART)
    assert base.digest == desired_from_resource(cr({"b": 2, "a": 1}), WATCH, CHART).digest
    assert base.digest != desired_from_resource(cr({"a": 2, "b": 2}), WATCH, CHART).digest
    assert base.digest != desired_from_resource(cr({"a": 1, "b": 2}, namespace="other"), WATCH, CHART).digest
    other_chart = type(CHART)(source="/c", identity="sha256:def", name="memcached", version="0.1.0")
    assert base.digest != desired_from_resource(cr({"a": 1, "b": 2}), WATCH, other_chart).digest
    assert len(base.digest) <= 63


@pytest.mark.parametrize(
    ("resource", "watch", "problem"),
    [
        (cr([1, 2]), WATCH, "spec must be an object holding the chart's values, got an array"),
        (cr("text"), WATCH, "got a string"),
        (cr({}, name="x" * 60), WATCH, "is 60 characters; Helm allows 53"),
        (cr({}, name="Bad_Name"), WATCH, "is not valid for Helm"),
        (cr({}, namespace=""), WATCH, "cluster-scoped: set targetNamespace"),
    ],
)
def test_unusable_resources_are_marked_invalid_with_the_reason(
    resource: dict[str, Any], watch: Watch, problem: str
) -> None:
    assert problem in desired_from_resource(resource, watch, CHART).invalid


def test_cluster_scoped_kind_uses_target_namespace_and_template() -> None:
    watch = Watch(
        group="a.io", version="v1", kind="Cache", chart="/c", target_namespace="caches", release_name="{kind}-{name}"
    )
    desired = desired_from_resource(cr({}, namespace=""), watch, CHART)
    assert str(desired.key) == "caches/cache-cache" and not desired.invalid


def test_missing_spec_means_chart_defaults() -> None:
    assert desired_from_resource(cr(None), WATCH, CHART).values == {"image": {"tag": "1.6"}}


def test_merge_does_not_mutate_inputs() -> None:
    spec = {"a": {"b": 1}}
    merge_values(spec, {"a": {"c": 2}})
    assert spec == {"a": {"b": 1}}


def test_a_digest_key_makes_the_digest_an_hmac_and_keeps_the_old_one_in_sync() -> None:
    plain = desired_from_resource(cr({"password": "guessable"}), WATCH, CHART)
    keyed = desired_from_resource(cr({"password": "guessable"}), WATCH, CHART, b"k" * 32)
    other = desired_from_resource(cr({"password": "guessable"}), WATCH, CHART, b"j" * 32)
    assert len({plain.digest, keyed.digest, other.digest}) == 3, "without the key, a digest cannot be recomputed"
    assert keyed.unkeyed_digest == plain.digest and plain.unkeyed_digest == ""
    assert keyed.deployed_as(plain.digest) and keyed.deployed_as(keyed.digest) and not keyed.deployed_as("")
    assert not other.deployed_as(keyed.digest)
    key_id, mark, mac = keyed.digest.partition(".")
    assert (len(key_id), mark, len(mac), len(keyed.digest) <= 63) == (8, ".", 40, True), "a label value, naming its key"
    assert other.digest.partition(".")[0] != key_id and "." not in plain.digest
    assert keyed.deployed_as(mac), "a release keyed before digests named their key is in sync too"
