"""The config file: both accepted shapes, and one precise message per kind of mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconcile.config import load_config
from reconcile.errors import ConfigError
from reconcile.settings import DriftMode, guess_plural

WATCHES_YAML = """\
- group: anywhere.io
  version: v1alpha1
  kind: Memcached
  chart: /opt/helm/helm-charts/memcached
  watchDependentResources: false
  overrideValues:
    image:
      repository: $REGISTRY/memcached
    note: "costs $$5"
  selector:
    matchLabels: {tier: cache}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "helmcr.yaml"
    path.write_text(text)
    return path


def test_operator_sdk_watches_file_is_accepted_as_is(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, WATCHES_YAML), environ={"REGISTRY": "quay.io"})
    (watch,) = config.watches
    assert (watch.group, watch.version, watch.kind, watch.resource_plural) == (
        "anywhere.io",
        "v1alpha1",
        "Memcached",
        "memcacheds",
    )
    assert watch.override_values == {"image": {"repository": "quay.io/memcached"}, "note": "costs $5"}
    assert watch.selector.matches({"tier": "cache"}) and not watch.selector.matches({"tier": "db"})
    assert any("watchDependentResources" in w for w in config.warnings)
    assert watch.operator_sdk, "a watches.yaml keeps operator-sdk's status beside helmcr's"


def test_rollouts_churn_limits_and_the_namespace_budget_are_read(tmp_path: Path) -> None:
    text = (
        "namespaceBudget: 10\nwatches:\n- {group: a.io, version: v1, kind: Foo, chart: c, maxUpgradesPerDay: 3, "
        "maxRepeatsPerDay: 0, rollout: {canary: 1, canarySelector: {matchLabels: {ring: canary}}, wave: 25%, "
        "failureBudget: 2, healthTimeout: 5m, resume: 3f9a2c1d0b7e}}\n"
    )
    config = load_config(write(tmp_path, text))
    (watch,) = config.watches
    rollout = watch.rollout
    assert (rollout.canary.count, rollout.wave.percent, rollout.failure_budget.count) == (1, 25.0, 2)
    assert rollout.canary_selector is not None and rollout.canary_selector.matches({"ring": "canary"})
    assert (rollout.health_timeout_seconds, rollout.resume, rollout.active) == (300.0, "3f9a2c1d0b7e", True)
    assert (watch.policy.max_upgrades_per_day, watch.policy.max_repeats_per_day) == (3, 0)
    assert config.namespace_budget == 10


def test_zero_percent_is_none_of_the_whole_not_the_default_count(tmp_path: Path) -> None:
    text = (
        "maxUninstalls: 0%\nwatches:\n"
        "- {group: a.io, version: v1, kind: Foo, chart: c, rollout: {wave: 10, failureBudget: 0%}}\n"
    )
    config = load_config(write(tmp_path, text))
    assert config.max_uninstalls.of(1000) == 0
    assert config.watches[0].rollout.failure_budget.of(1000) == 0


def test_a_whole_keyed_digest_given_as_resume_names_its_hash(tmp_path: Path) -> None:
    text = "- {group: a.io, version: v1, kind: Foo, chart: c, rollout: {wave: 1, resume: 52268fff.c29e41d07a6b}}\n"
    assert load_config(write(tmp_path, text)).watches[0].rollout.resume == "c29e41d07a6b"


def test_drift_health_and_conflicts_are_read_per_kind(tmp_path: Path) -> None:
    text = (
        "- {group: a.io, version: v1, kind: Foo, chart: c, health: true, conflicts: fail, drift: {mode: correct, "
        "ignoreManagers: [keda], ignore: [{paths: [/spec/replicas], target: {kind: Deployment}}]}}\n"
        "- {group: a.io, version: v1, kind: Bar, chart: c, health: false, drift: {mode: off}}\n"
    )
    foo, bar = load_config(write(tmp_path, text)).watches
    assert (foo.live.drift, foo.live.health, foo.live.ignore_managers, foo.helm.force_conflicts) == (
        "correct",
        True,
        ("keda",),
        False,
    )
    assert foo.live.ignored("Deployment", "x", "/spec/replicas") and not foo.live.ignored("StatefulSet", "x", "/spec")
    assert (bar.live.drift, bar.live.active, bar.helm.force_conflicts) == ("off", False, True), "a bare off is off"


def test_override_keys_are_set_paths_and_a_watches_yaml_types_its_strings_as_set_does(tmp_path: Path) -> None:
    text = (
        "- {group: a.io, version: v1, kind: Foo, chart: c, overrideValues: "
        '{memcached.verbosity: vv, replicaCount: "2", "args[1]": x}}\n'
    )
    (watch,) = load_config(write(tmp_path, text)).watches
    assert watch.override_values == {"memcached": {"verbosity": "vv"}, "replicaCount": 2, "args": [None, "x"]}
    mapping = 'watches:\n- {group: a.io, version: v1, kind: Foo, chart: c, overrideValues: {image.tag: "2"}}\n'
    (typed,) = load_config(write(tmp_path, mapping)).watches
    assert (typed.override_values, typed.operator_sdk) == ({"image": {"tag": "2"}}, False)


def test_mapping_form_with_globals(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            """
concurrency: 8
helmBinary: /usr/bin/helm4
watches:
  - {group: db.example.com, version: v1, kind: Redis, chart: ./redis, releaseName: "{namespace}-{name}",
     timeout: 90, historyMax: 3, wait: true, namespaces: [b, a]}
""",
        ),
        environ={},
    )
    (watch,) = config.watches
    assert (config.concurrency, config.helm_binary) == (8, "/usr/bin/helm4")
    assert (watch.helm.timeout, watch.helm.history_max, watch.helm.wait) == ("90s", 3, True)
    assert watch.namespaces == ("a", "b")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("watches: [", "not valid YAML: line 1"),
        ("42", "expected a list of watches"),
        ("concurrency: 2", "missing required field 'watches'"),
        ("- {group: a.io, version: v1, kind: Foo}", "missing required field 'chart'"),
        (
            "- {group: a.io, version: v1, kind: Foo, chart: c, chartt: x}",
            "unknown field 'chartt' (did you mean 'chart'?)",
        ),
        ("- {group: a.io, version: v1, kind: foo, chart: c}", "watches[0].kind: 'foo' is not a Kubernetes kind"),
        ("- {group: A_B, version: v1, kind: Foo, chart: c}", "watches[0].group: 'A_B' is not a valid DNS name"),
        ("- {group: a.io, version: v1, kind: Foo, chart: c, timeout: soon}", "watches[0].timeout: expected a duration"),
        ("- {group: a.io, version: v1, kind: Foo, chart: c, releaseName: '{uid}'}", "unknown placeholder {uid}"),
        (
            "- {group: a.io, version: v1, kind: Foo, chart: c, overrideValues: {a: $NOPE}}",
            "watches[0].overrideValues.a: environment variable NOPE is not set",
        ),
        (
            '- {group: a.io, version: v1, kind: Foo, chart: c, overrideValues: {"a..b": x}}',
            "watches[0].overrideValues.a..b: is not a --set path",
        ),
        (
            "- {group: a.io, version: v1, kind: Foo, chart: c, drift: {mode: fix}}",
            "watches[0].drift.mode: expected one of off, detect, correct, got 'fix'",
        ),
        (
            "- {group: a.io, version: v1, kind: Foo, chart: c, drift: {ignore: [{paths: [spec]}]}}",
            "watches[0].drift.ignore[0].paths: expected a list of JSON pointers such as /spec/replicas",
        ),
        (
            "- {group: a.io, version: v1, kind: Foo, chart: c, conflicts: overwrite}",
            "watches[0].conflicts: expected one of force, fail, got 'overwrite'",
        ),
        (
            "concurrency: 0\nwatches: [{group: a.io, version: v1, kind: Foo, chart: c}]",
            "concurrency: expected a whole number",
        ),
        (
            "- {group: a.io, version: v1, kind: Foo, chart: c}\n- {group: a.io, version: v2, kind: Foo, chart: d}",
            "kind Foo.a.io is already watched by watches[0]",
        ),
        (
            "- {group: a.io, version: v1, kind: Foo, chart: c, serviceAccountName: default}",
            "watches[0].serviceAccountName: 'default' is the account every Pod without one runs as",
        ),
        (
            "- {group: a.io, version: v1, kind: Foo, chart: c, allowedKinds: ConfigMap}",
            "watches[0].allowedKinds: expected a list of kinds",
        ),
        (
            "- {group: a.io, version: v1, kind: Foo, chart: c, rollout: {canary: 1}}",
            "watches[0].rollout.wave: a rollout needs a wave size",
        ),
        (
            "- {group: a.io, version: v1, kind: Foo, chart: c, rollout: {wave: 0%}}",
            "watches[0].rollout.wave: a rollout needs a wave size",
        ),
        (
            "- {group: a.io, version: v1, kind: Foo, chart: c, rollout: {wave: 10, resume: abc}}",
            "watches[0].rollout.resume: give at least 8 characters",
        ),
        (
            "- {group: a.io, version: v1, kind: Foo, chart: c, rollout: {wave: 10, resume: 52268fff.}}",
            "watches[0].rollout.resume: give at least 8 characters",
        ),
        (
            "- {group: a.io, version: v1, kind: Foo, chart: c, rollout: {wave: 120%}}",
            "watches[0].rollout.wave: expected a count such as 20 or a percentage",
        ),
        (
            "- {group: a.io, version: v1, kind: Foo, chart: c, rollout: {wave: 1, waves: 2}}",
            "watches[0].rollout",
        ),
        (
            "- {group: a.io, version: v1, kind: Foo, chart: c, allowedKinds: [configmaps]}",
            "watches[0].allowedKinds: 'configmaps' is not a kind (Kind, or Kind.group",
        ),
    ],
)
def test_each_mistake_gets_one_message_naming_file_and_field(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert str(caught.value).startswith(str(path))
    assert message in str(caught.value)


@pytest.mark.parametrize(
    "source",
    [
        "chart: oci://robot:hunter22@registry.example/charts/foo, chartVersion: 1.0.0",
        "chart: foo, repo: 'https://robot:hunter22@charts.example', chartVersion: 1.0.0",
    ],
)
def test_credentials_in_a_chart_url_are_refused_without_repeating_them(tmp_path: Path, source: str) -> None:
    path = write(tmp_path, f"- {{group: a.io, version: v1, kind: Foo, {source}}}")
    with pytest.raises(ConfigError, match=r"holds credentials .*HELM_REGISTRY_CONFIG") as caught:
        load_config(path, environ={})
    assert "hunter22" not in str(caught.value)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the config file"):
        load_config(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    ("kind", "plural"),
    [("Memcached", "memcacheds"), ("Redis", "redises"), ("Policy", "policies"), ("Gateway", "gateways")],
)
def test_plural_guess(kind: str, plural: str) -> None:
    assert guess_plural(kind) == plural


def test_the_digest_key_comes_from_the_environment_or_a_file(tmp_path: Path) -> None:
    path = tmp_path / "helmcr.yaml"
    path.write_text("watches: [{group: a.io, version: v1, kind: Foo, chart: c}]\ndigestKeyFile: key\n")
    (tmp_path / "key").write_text("0123456789abcdef0123\n")
    assert load_config(path, environ={}).digest_key == b"0123456789abcdef0123"
    assert (
        load_config(path, environ={"HELMCR_DIGEST_KEY": "from-the-environment!"}).digest_key == b"from-the-environment!"
    )
    (tmp_path / "key").write_text("short")
    with pytest.raises(ConfigError, match="a digest key needs at least 16"):
        load_config(path, environ={})


def test_what_a_kinds_releases_may_hold_defaults_to_its_namespace_and_namespaced_kinds(tmp_path: Path) -> None:
    plain, open_ = load_config(
        write(
            tmp_path,
            """
- {group: a.io, version: v1, kind: Foo, chart: c}
- {group: a.io, version: v1, kind: Bar, chart: c, allowedKinds: [ConfigMap, Deployment.apps],
   allowClusterScoped: true, allowOtherNamespaces: true}
""",
        ),
        environ={},
    ).watches
    assert (plain.objects.kinds, plain.objects.cluster_scoped, plain.objects.other_namespaces) == ((), False, False)
    assert open_.objects.allows_kind("apps", "Deployment") and not open_.objects.allows_kind("extensions", "Deployment")
    assert open_.objects.cluster_scoped and open_.objects.other_namespaces and not open_.objects.unbounded


def test_a_watches_yaml_owns_its_objects_like_operator_sdk_and_a_helmcr_config_when_asked(tmp_path: Path) -> None:
    (listed,) = load_config(write(tmp_path, "- {group: a.io, version: v1, kind: Foo, chart: c}\n")).watches
    mapping = "watches:\n- {group: a.io, version: v1, kind: Foo, chart: c}\n"
    (plain,) = load_config(write(tmp_path, mapping)).watches
    assert (listed.owner_references, plain.owner_references) == (True, False)
    assert (listed.live.drift, listed.live.health) == (DriftMode.CORRECT, True), "operator-sdk repairs its objects"
    assert (plain.live.drift, plain.live.health) == (DriftMode.OFF, False)
    (detect_only,) = load_config(
        write(tmp_path, "- {group: a.io, version: v1, kind: Foo, chart: c, drift: {mode: detect}}\n")
    ).watches
    assert detect_only.live.drift is DriftMode.DETECT
