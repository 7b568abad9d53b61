"""What scaffold generates, from a chart and a canned rendering: no helm, no cluster.

The cluster-facing proofs (the API server accepts and enforces all of it) are in tests/integration/test_scaffold.py.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from devenv.paths import read_versions, repo_root, shared_charts_dir
from reconcile.config import load_config
from reconcile.model import Action, Outcome, Result, State, Step
from reconcile.scaffold.chart import load_chart
from reconcile.scaffold.command import ResourceScope, build_request
from reconcile.scaffold.crd import STATUS
from reconcile.scaffold.documents import dump
from reconcile.scaffold.errors import ScaffoldInputError
from reconcile.scaffold.generate import BASE_ORIGIN, Request, Scaffold, base_files, scaffold
from reconcile.scaffold.render import Rendering, parse_manifests, render_hint
from reconcile.scaffold.writer import Change, plan_writes
from reconcile.settings import FailurePolicy
from reconcile.status import new_status
from tests.unit.factories import desired, observed

REPO = repo_root()
CHART = REPO / "examples" / "memcached" / "chart"
RENDERED = """\
---
# Source: memcached/templates/service.yaml
apiVersion: v1
kind: Service
metadata: {name: x}
---
# Source: memcached/templates/statefulset.yaml
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: x}
"""
OPTIONAL = """\
---
# Source: memcached/templates/servicemonitor.yaml
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata: {name: x}
"""


def request(defaults: bool = False, **flags: Any) -> Request:
    arguments: dict[str, Any] = {
        "group": "cache.example.com",
        "version": "v1alpha1",
        "kind": "Memcached",
        "plural": "",
        "scope": ResourceScope.Namespaced,
        "namespace": "team-a",
        "watch_namespaces": [],
        "all_namespaces": False,
        "image": "registry.example.com/helmcr:0.1.0",
        "schedule": "*/5 * * * *",
        **flags,
    }
    impersonate = arguments.pop("impersonate", True)
    shards = arguments.pop("shards", 1)
    return replace(
        build_request(**arguments),
        chart_ref="/charts/memcached",
        defaults=defaults,
        impersonate=impersonate,
        shards=shards,
    )


def generated(rendering: Rendering | None = None, **flags: Any) -> tuple[Scaffold, dict[str, Any]]:
    result = scaffold(request(**flags), load_chart(CHART), rendering or Rendering(tuple(parse_manifests(RENDERED))))
    return result, {f.name: list(yaml.safe_load_all(f.body)) for f in result.files}


def test_the_files_and_the_config_entry_helmcr_itself_accepts(tmp_path: Path) -> None:
    result, files = generated()
    assert list(files) == ["crd.yaml", "rbac.yaml", "cronjob.yaml", "helmcr.yaml", "kustomization.yaml", "sample.yaml"]
    (tmp_path / "helmcr.yaml").write_text(dump(files["helmcr.yaml"][0]))
    (watch,) = load_config(tmp_path / "helmcr.yaml").watches
    assert (watch.kind, watch.resource_plural, watch.chart, watch.namespaces) == (
        "Memcached",
        "memcacheds",
        "/charts/memcached",
        ("team-a",),
    )
    (sample,) = files["sample.yaml"]
    assert sample["metadata"] == {"name": "memcached-sample", "namespace": "team-a"}
    assert sample["spec"] == load_chart(CHART).values
    assert result.origin == "chart memcached 0.1.0 (helmcr scaffold)"


def test_the_crd_has_the_schema_status_subresource_and_printer_columns() -> None:
    _, files = generated()
    (crd,) = files["crd.yaml"]
    (version,) = crd["spec"]["versions"]
    assert crd["metadata"]["name"] == "memcacheds.cache.example.com" and crd["spec"]["scope"] == "Namespaced"
    assert version["subresources"] == {"status": {}}
    assert [c["name"] for c in version["additionalPrinterColumns"]] == [
        "Ready",
        "Reason",
        "Revision",
        "Chart",
        "Age",
        "Message",
    ]
    spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert spec["properties"]["image"]["properties"]["pullPolicy"]["enum"] == ["Always", "IfNotPresent", "Never"]
    assert "'default':" not in str(version["schema"]), "chart defaults stay the chart's, at render time"
    assert spec["properties"]["replicaCount"] == {
        "type": "integer",
        "description": "Number of memcached instances (StatefulSet replicas). Chart default: 1.",
        "minimum": 0,
    }
    _, frozen = generated(defaults=True)
    replicas = frozen["crd.yaml"][0]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert replicas["properties"]["replicaCount"]["default"] == 1, "--defaults still copies them when asked"


def test_the_cronjob_runs_one_pass_at_a_time_restricted_with_its_config_mounted() -> None:
    _, files = generated()
    (cron,) = files["cronjob.yaml"]
    spec = cron["spec"]
    job = spec["jobTemplate"]["spec"]
    pod = job["template"]["spec"]
    (container,) = pod["containers"]
    assert (spec["concurrencyPolicy"], spec["startingDeadlineSeconds"], job["backoffLimit"]) == ("Forbid", 120, 0)
    assert job["activeDeadlineSeconds"] == 3600
    assert pod["serviceAccountName"] == "helmcr-memcached" and pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert set(container["resources"]) == {"requests", "limits"}
    assert container["image"] == "registry.example.com/helmcr:0.1.0"
    assert container["args"] == ["sync", "--once", "--config", "/etc/helmcr/helmcr.yaml"]
    env = {e["name"]: e.get("value", "") for e in container["env"]}
    assert {e["name"]: e.get("valueFrom") for e in container["env"] if "valueFrom" in e} == {
        "HELMCR_DIGEST_KEY": {"secretKeyRef": {"name": "helmcr-digest-key", "key": "key"}}  # required: never unkeyed
    }
    assert all(
        env[name].startswith("/tmp") for name in ("HOME", "HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME")
    )
    assert {v["name"]: v.get("configMap", {}).get("name") for v in pod["volumes"]} == {
        "config": "helmcr-memcached",
        "tmp": None,
    }
    (kustomization,) = files["kustomization.yaml"]
    assert kustomization["resources"] == ["crd.yaml", "rbac.yaml", "cronjob.yaml"]
    assert kustomization["configMapGenerator"] == [
        {"name": "helmcr-memcached", "namespace": "team-a", "files": ["helmcr.yaml"]}
    ]


def test_shards_make_the_job_indexed_with_one_pod_per_shard_given_its_index() -> None:
    _, files = generated(shards=3)
    (cron,) = files["cronjob.yaml"]
    job = cron["spec"]["jobTemplate"]["spec"]
    assert (job["completionMode"], job["completions"], job["parallelism"]) == ("Indexed", 3, 3)
    assert job["backoffLimitPerIndex"] == 0 and "backoffLimit" not in job, "one shard's failure stops no other"
    (container,) = job["template"]["spec"]["containers"]
    assert container["args"][-2:] == ["--shard", "$(JOB_COMPLETION_INDEX)/3"]
    _, single = generated()
    assert "completionMode" not in single["cronjob.yaml"][0]["spec"]["jobTemplate"]["spec"]
    assert single["cronjob.yaml"][0]["spec"]["jobTemplate"]["spec"]["backoffLimit"] == 0


def test_what_values_could_enable_is_said_not_granted() -> None:
    rendering = Rendering(
        objects=tuple(parse_manifests(RENDERED)),
        optional=tuple(parse_manifests(RENDERED + OPTIONAL)),
        switches=("metrics.serviceMonitor.enabled",),
        failed_switches=("ingress.enabled",),
    )
    result, files = generated(rendering)
    assert "servicemonitors" not in str(files["rbac.yaml"])
    assert any(
        "values beyond the defaults also render ServiceMonitor (templates/servicemonitor.yaml)" in note
        and "metrics.serviceMonitor.enabled" in note
        for note in result.notes
    )
    assert any("could not render with ingress.enabled" in note for note in result.notes)


def test_a_cluster_scoped_kind_sends_its_releases_to_helmcrs_namespace() -> None:
    _, files = generated(scope=ResourceScope.Cluster)
    assert files["helmcr.yaml"][0]["watches"][0]["targetNamespace"] == "team-a"
    assert "namespaces" not in files["helmcr.yaml"][0]["watches"][0]
    assert files["crd.yaml"][0]["spec"]["scope"] == "Cluster"
    assert "namespace" not in files["sample.yaml"][0]["metadata"]


@pytest.mark.parametrize(
    ("flags", "problem"),
    [
        ({"kind": "memcached"}, "--kind 'memcached'"),
        ({"group": "example"}, "at least one dot"),
        ({"group": "Example.com"}, "--group"),
        ({"version": "V1"}, "--version"),
        ({"plural": "Memcacheds"}, "--plural"),
        ({"namespace": "Team_A"}, "namespace 'Team_A'"),
        ({"all_namespaces": True, "watch_namespaces": ["a"]}, "exclude each other"),
        ({"scope": ResourceScope.Cluster, "all_namespaces": True}, "cluster-scoped kind"),
        ({"schedule": "every minute"}, "five cron fields"),
        ({"image": " "}, "--image"),
    ],
)
def test_bad_flags_are_refused_before_anything_is_read(flags: dict[str, Any], problem: str) -> None:
    with pytest.raises(ScaffoldInputError) as refused:
        request(**flags)
    assert problem in str(refused.value)
    assert refused.value.exit_code == 3


def test_the_committed_generic_base_is_what_the_builders_make() -> None:
    planned = plan_writes(REPO / "cronjob", base_files(), BASE_ORIGIN, force=False)
    assert {path.name: change for path, change in planned} == dict.fromkeys(
        ["kustomization.yaml", "rbac.yaml", "cronjob.yaml", "helmcr.yaml"], Change.UNCHANGED
    ), "regenerate with: python -m devenv.cronjob_base"


def test_the_dockerfile_builds_the_pinned_helm_from_source_on_python_311_as_non_root() -> None:
    dockerfile = (REPO / "cronjob" / "Dockerfile").read_text()
    assert re.search(r"^ARG HELM_VERSION=(\S+)$", dockerfile, re.M)[1] == read_versions()["HELM4_VERSION"]  # type: ignore[index]
    assert re.search(r"^ARG PYTHON_VERSION=3\.11$", dockerfile, re.M)
    assert "FROM python:${PYTHON_VERSION}-slim" in dockerfile
    assert "go install" in dockerfile and "internal/version.version=${HELM_VERSION}" in dockerfile
    assert not re.search(r"\b(curl|wget)\b|^ADD\s+https?:", dockerfile, re.M), "no downloaded binaries"
    user = re.findall(r"^USER (\S+)$", dockerfile, re.M)
    assert user and user[-1].split(":")[0] not in ("0", "root")


def test_yaml_that_means_one_thing_to_yaml_11_parsers() -> None:
    assert dump({"a": "y", "b": "n", "c": "on", "d": ["get", "list"]}) == "a: 'y'\nb: 'n'\nc: 'on'\nd: [get, list]\n"


def test_the_status_schema_types_every_field_helmcr_writes() -> None:
    """A field the CRD did not declare would still be kept (the status schema preserves unknown fields), but
    untyped and invisible to ``kubectl explain``: keep the two in step."""
    wanted = desired(status={}, generation=2)
    step = Step(wanted.key, Action.UPGRADE, State.OUT_OF_SYNC, "r", desired=wanted, observed=observed(revision=1))
    policy = FailurePolicy(backoff_seconds=60, max_backoff_seconds=3600)
    written: set[str] = set()
    condition: set[str] = set()
    for result in (Result.SUCCEEDED, Result.FAILED):
        status = new_status(
            Outcome(step, result, message="m", revision=2, finished_at="2026-11-24T10:00:00Z"),
            "2026-11-24T10:00:00Z",
            policy,
        )
        assert status is not None
        written |= set(status)
        condition |= set(status["conditions"][0])
    assert written <= set(STATUS["properties"]), written - set(STATUS["properties"])
    assert condition <= set(STATUS["properties"]["conditions"]["items"]["properties"])


def test_scaffold_warns_about_a_chart_that_passes_values_to_tpl() -> None:
    quiet, _ = generated()
    assert not [w for w in quiet.warnings if "tpl" in w], "the example chart calls no tpl"
    loaded = load_chart(shared_charts_dir() / "redis")
    assert loaded.tpl
    warned = scaffold(request(), loaded, Rendering(()))
    assert any("passes values to tpl" in w and "allowTemplateValues" in w for w in warned.warnings)


def test_helm_acts_as_an_account_of_each_release_namespace_that_holds_the_charts_rbac_not_helmcr(
    tmp_path: Path,
) -> None:
    result, files = generated(watch_namespaces=["team-a", "team-b"])
    documents = {(d["kind"], d["metadata"]["name"], d["metadata"].get("namespace")): d for d in files["rbac.yaml"]}
    helmcr_rules = {
        res: (rule["verbs"], rule.get("resourceNames"))
        for rule in documents[("Role", "helmcr-memcached", "team-b")]["rules"]
        for res in rule["resources"]
    }
    assert helmcr_rules == {
        "memcacheds": (["list"], None),
        "memcacheds/status": (["patch"], None),
        "events": (["create"], None),
        "secrets": (["get", "list", "update"], None),  # to read release records and unlock a dead operation's
        "serviceaccounts": (["impersonate"], ["helmcr-memcached-release"]),
        "services": (["list"], None),  # drift and health read what the chart keeps, one LIST per namespace
        "statefulsets": (["list"], None),
    }
    for namespace in ("team-a", "team-b"):
        account = documents[("ServiceAccount", "helmcr-memcached-release", namespace)]
        assert account["automountServiceAccountToken"] is False
        role = documents[("Role", "helmcr-memcached-release", namespace)]
        assert {res for rule in role["rules"] for res in rule["resources"]} == {"secrets", "services", "statefulsets"}
        binding = documents[("RoleBinding", "helmcr-memcached-release", namespace)]
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": "helmcr-memcached-release", "namespace": namespace}
        ]
    (tmp_path / "helmcr.yaml").write_text(dump(files["helmcr.yaml"][0]))
    (watch,) = load_config(tmp_path / "helmcr.yaml").watches
    assert watch.helm.service_account == "helmcr-memcached-release"
    assert (watch.live.drift, watch.live.health, watch.owner_references) == ("correct", True, True)
    assert (watch.objects.kinds, watch.objects.cluster_scoped) == (("Service", "StatefulSet.apps"), False)
    assert {g.resource for g in result.release_grants} == {"secrets", "services", "statefulsets"}


def test_without_impersonation_helmcr_holds_the_charts_rbac_itself() -> None:
    result, files = generated(impersonate=False)
    assert result.release_grants == ()
    assert [d["metadata"]["name"] for d in files["rbac.yaml"]] == ["helmcr-memcached"] * 3
    assert "serviceAccountName" not in files["helmcr.yaml"][0]["watches"][0]
    assert {"services", "statefulsets"} <= {g.resource for g in result.grants}


def test_every_namespace_leaves_the_account_to_each_namespace_with_a_cluster_role_to_bind() -> None:
    result, files = generated(all_namespaces=True)
    kinds = [(d["kind"], d["metadata"]["name"]) for d in files["rbac.yaml"]]
    assert ("ClusterRole", "helmcr-memcached-release-team-a") in kinds
    assert not any(name.startswith("helmcr-memcached-release") and kind != "ClusterRole" for kind, name in kinds)
    assert any("RoleBinding to ClusterRole helmcr-memcached-release-team-a" in note for note in result.notes)


def test_helmcr_managing_releases_in_its_own_namespace_is_warned_about() -> None:
    shared, _ = generated()
    apart, _ = generated(namespace="ops", watch_namespaces=["team-a"])
    assert any("helmcr's digest key included" in w for w in shared.warnings)
    assert not any("digest key" in w for w in apart.warnings)


@pytest.mark.parametrize(
    ("helm_says", "hint"),
    [
        ("library charts are not installable", "a library chart installs nothing"),
        ("found in Chart.yaml, but missing in charts/ directory: redis", "run helm dependency build"),
        ("chart requires kubeVersion: >=1.38.0-0 which is incompatible with Kubernetes v1.37.0", "--kube-version"),
        ("invalid chart apiVersion", "try the other helm major version"),
        ("helm crashed: panic: runtime error", "try the other helm major version"),
        ('template: x/templates/a.yaml:3:4: executing "x" at <.Values.a.b>: nil pointer', "pass --values FILE"),
    ],
)
def test_a_chart_that_does_not_render_gets_a_hint_that_can_fix_it(helm_says: str, hint: str) -> None:
    assert hint in render_hint(helm_says)


def test_kinds_only_other_values_render_are_named_from_the_templates(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "Chart.yaml").write_text("apiVersion: v2\nname: c\nversion: 1.0.0\n")
    (tmp_path / "values.yaml").write_text("kind: StatefulSet\nreplicaCount: 1\n")
    (tmp_path / "templates" / "service.yaml").write_text("apiVersion: v1\nkind: Service\nmetadata: {name: x}\n")
    (tmp_path / "templates" / "pdb.yaml").write_text(
        "{{- if gt (int .Values.replicaCount) 1 }}\napiVersion: policy/v1\nkind: PodDisruptionBudget  # HA only\n"
        "metadata: {name: x}\n{{- end }}\n"
    )
    (tmp_path / "templates" / "workload.yaml").write_text(
        'apiVersion: apps/v1\nkind: "{{ .Values.kind }}"\nmetadata: {name: x}\n'
    )
    (tmp_path / "templates" / "binding.yaml").write_text(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: x}\n"
        "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: x}\nsubjects:\n- kind: ServiceAccount\n"
        "  name: x\n"
    )
    (tmp_path / "templates" / "crlf.yaml").write_bytes(b"apiVersion: v1\r\nkind: Service\r\nmetadata: {name: y}\r\n")
    (tmp_path / "templates" / "list.yaml").write_text("apiVersion: v1\nkind: List\nitems: []\n")
    (tmp_path / "templates" / "notes.yaml").write_text("{{/*\nkind: Secret\n*/}}\n")
    rendered = "---\n# Source: c/templates/service.yaml\napiVersion: v1\nkind: Service\nmetadata: {name: x}\n"
    result = scaffold(request(), load_chart(tmp_path), Rendering(tuple(parse_manifests(rendered))))
    (unseen,) = [note for note in result.notes if "the templates also name" in note]
    assert "PodDisruptionBudget (templates/pdb.yaml), RoleBinding (templates/binding.yaml)," in unseen
    assert "Service (" not in unseen and "Role (" not in unseen, "rendered kinds and a roleRef's are not listed"
    assert not {"List", "Secret"} & set(unseen.split()), "nor a List's kind, nor a template comment's"
    assert "crlf" not in unseen, "a Service written with CRLF line ends is the Service that rendered"
    assert any("the kind of templates/workload.yaml comes from values" in note for note in result.notes)
    assert "poddisruptionbudgets" not in str([f.body for f in result.files if f.name == "rbac.yaml"])
