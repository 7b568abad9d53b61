"""What a kind's releases may hold: the rendered objects, checked before helm applies any (reconcile.objectcheck)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconcile.errors import KubeForbidden, KubeNotFound, ObjectsRefused
from reconcile.model import Result
from reconcile.objectcheck import KindScopes, refusals
from reconcile.observe import ClusterSource
from reconcile.preview import PreviewSettings
from reconcile.settings import ObjectRules, RunOptions
from reconcile.sync import preview_run
from tests.unit.fakes.helm import default_render
from tests.unit.world import NAMESPACE, World


def stream(*objects: dict[str, Any]) -> str:
    return "".join(f"---\n# Source: chart/templates/{i}.yaml\n{yaml.safe_dump(o)}" for i, o in enumerate(objects))


def obj(kind: str, name: str, api_version: str = "v1", namespace: str = "") -> dict[str, Any]:
    metadata = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata}


def built_in_only(api_version: str, kind: str) -> bool:
    return KindScopes(NoDiscovery()).namespaced(api_version, kind)


class NoDiscovery:
    """Serves the given group-versions; any other is not found (404), or ``refused`` (403)."""

    def __init__(self, served: dict[str, list[dict[str, Any]]] | None = None, refused: bool = False) -> None:
        self.served = served or {}
        self.refused = refused
        self.asked: list[str] = []

    def request(self, method: str, path: str) -> dict[str, Any]:
        self.asked.append(path)
        if path in self.served:
            return {"resources": self.served[path]}
        if self.refused:
            raise KubeForbidden(f"GET {path}: forbidden")
        raise KubeNotFound(f"GET {path}: not found")


def test_by_default_any_namespaced_kind_in_the_releases_namespace_is_allowed() -> None:
    manifest = stream(obj("ConfigMap", "a"), obj("Deployment", "b", "apps/v1", NAMESPACE))
    assert refusals(manifest, NAMESPACE, ObjectRules(), built_in_only) == []


def test_an_object_in_another_namespace_or_cluster_scoped_is_refused_by_default() -> None:
    manifest = stream(
        obj("ConfigMap", "planted", namespace="team-b"),
        obj("ClusterRoleBinding", "root", "rbac.authorization.k8s.io/v1"),
        obj("Namespace", "mine"),
    )
    assert refusals(manifest, NAMESPACE, ObjectRules(), built_in_only) == [
        "ConfigMap planted: namespace 'team-b' is not the release's ('team-a'; allowOtherNamespaces)",
        "ClusterRoleBinding root: cluster-scoped objects are not allowed (allowClusterScoped)",
        "Namespace mine: cluster-scoped objects are not allowed (allowClusterScoped)",
    ]
    allowed = ObjectRules(cluster_scoped=True, other_namespaces=True)
    assert refusals(manifest, NAMESPACE, allowed, built_in_only) == [] and allowed.unbounded


def test_allowed_kinds_name_a_kind_in_any_group_or_in_one() -> None:
    manifest = stream(
        obj("ConfigMap", "a"), obj("Deployment", "b", "apps/v1"), obj("Ingress", "c", "networking.k8s.io/v1")
    )
    rules = ObjectRules(kinds=("ConfigMap", "Deployment.apps"))
    assert refusals(manifest, NAMESPACE, rules, built_in_only) == [
        "Ingress c: kind Ingress.networking.k8s.io is not in the kind's allowedKinds"
    ]
    assert refusals(manifest, NAMESPACE, ObjectRules(kinds=("Deployment.extensions",)), built_in_only)[0].startswith(
        "ConfigMap a"
    )


def test_a_kind_the_table_does_not_know_is_asked_of_discovery_once_per_group_version() -> None:
    discovery = NoDiscovery(
        {
            "/apis/example.io/v1": [
                {"name": "widgets", "kind": "Widget", "namespaced": True},
                {"name": "widgets/status", "kind": "Widget", "namespaced": False},
                {"name": "realms", "kind": "Realm", "namespaced": False},
            ]
        }
    )
    scopes = KindScopes(discovery)
    manifest = stream(obj("Widget", "w1", "example.io/v1"), obj("Widget", "w2", "example.io/v1"))
    assert refusals(manifest, NAMESPACE, ObjectRules(), scopes.namespaced) == []
    realm = stream(obj("Realm", "r", "example.io/v1"))
    assert refusals(realm, NAMESPACE, ObjectRules(), scopes.namespaced) == [
        "Realm r: cluster-scoped objects are not allowed (allowClusterScoped)"
    ]
    assert discovery.asked == ["/apis/example.io/v1"]


def test_a_kind_discovery_cannot_place_is_refused_never_guessed() -> None:
    scopes = KindScopes(NoDiscovery({"/apis/example.io/v1": []}))
    with pytest.raises(ObjectsRefused, match=r"Gadget is not served as example\.io/v1"):
        scopes.namespaced("example.io/v1", "Gadget")
    with pytest.raises(ObjectsRefused, match=r"Thing is not served as other\.io/v2"):
        scopes.namespaced("other.io/v2", "Thing")
    refused = KindScopes(NoDiscovery(refused=True))
    with pytest.raises(ObjectsRefused, match=r"cannot tell whether other\.io/v2 kinds are namespaced: .*forbidden"):
        refused.namespaced("other.io/v2", "Thing")


def planting_render(release: str, namespace: str, values: Mapping[str, Any]) -> str:
    """A chart that takes an object's namespace from values, as the attack did."""
    planted = obj("ConfigMap", f"{release}-planted", namespace=str(values.get("elsewhere") or namespace))
    return default_render(release, namespace, values) + "---\n" + yaml.safe_dump(planted)


def test_a_cr_that_plants_an_object_elsewhere_fails_before_helm_applies_anything_and_the_others_go_on() -> None:
    world = World()
    world.helm.renderer = planting_render
    world.cr("planter", {"elsewhere": "team-b"})
    world.cr("plain")
    outcomes = {o.step.key.name: o for o in world.sync().outcomes}
    assert (outcomes["planter"].result, outcomes["planter"].error) == (Result.FAILED, "refused")
    assert "ConfigMap planter-planted: namespace 'team-b'" in world.ready("planter")["message"]
    assert outcomes["plain"].result is Result.SUCCEEDED
    assert world.releases() == {"plain": (1, "deployed")}
    assert all(call.dry_run for call in world.helm.calls if "planter" in call.argv)


def test_rules_that_allow_everything_skip_the_check_and_its_render() -> None:
    world = World()
    world.watch = replace(world.watch, objects=ObjectRules(cluster_scoped=True, other_namespaces=True))
    world.helm.renderer = planting_render
    world.cr("planter", {"elsewhere": "team-b"})
    assert [o.result for o in world.sync().outcomes] == [Result.SUCCEEDED]
    assert [call.dry_run for call in world.helm.calls if call.command != "version"] == [False]


def test_a_preview_says_what_the_run_would_refuse() -> None:
    world = World()
    world.helm.renderer = planting_render
    world.cr("planter", {"elsewhere": "team-b"})
    source = ClusterSource(world.kube, RunOptions().scope, 100)
    _, preview, _ = preview_run(world.config, source, world.helm, RunOptions(), PreviewSettings())
    (problem,) = preview.problems
    assert "refused before helm applied anything: ConfigMap planter-planted: namespace 'team-b'" in problem
    assert world.releases() == {}


def hooked_render(release: str, namespace: str, values: Mapping[str, Any]) -> str:
    hook = obj("Job", f"{release}-migrate", "batch/v1")
    hook["metadata"]["annotations"] = {"helm.sh/hook": "pre-install"}
    return default_render(release, namespace, values) + "---\n" + yaml.safe_dump(hook)


@pytest.mark.parametrize(("disable_hooks", "result"), [(False, Result.FAILED), (True, Result.SUCCEEDED)])
def test_hooks_are_checked_unless_helm_is_told_not_to_run_them(disable_hooks: bool, result: Result) -> None:
    world = World()
    helm = replace(world.watch.helm, disable_hooks=disable_hooks)
    world.watch = replace(world.watch, helm=helm, objects=ObjectRules(kinds=("ConfigMap",)))
    world.helm.renderer = hooked_render
    world.cr("cache")
    (outcome,) = world.sync().outcomes
    assert outcome.result is result, outcome.message
    assert disable_hooks or "Job cache-migrate: kind Job.batch is not in the kind's allowedKinds" in outcome.message


@pytest.mark.parametrize(
    ("document", "why"),
    [
        (  # Kubernetes reads any object with an items list as a list: nothing may hide in one
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\nitems:\n"
            "- {apiVersion: rbac.authorization.k8s.io/v1, kind: ClusterRoleBinding, metadata: {name: root}}\n",
            "ClusterRoleBinding root: cluster-scoped objects are not allowed",
        ),
        (  # Go lets the merged mapping win, PyYAML the explicit key
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  namespace: team-a\n  <<: {namespace: team-b}\n",
            "a merge key (<<)",
        ),
        ("!x\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: team-b}\n", "the tag '!x'"),
        (  # both parsers keep the last of a repeated key: it is judged as helm applies it
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: team-a, namespace: team-b}\n",
            "namespace 'team-b' is not the release's",
        ),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: !!set {namespace: team-b}\n", "the tag 'tag:yaml.org,2002:set'"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, !!binary bmFtZXNwYWNl: team-b}\n", "binary"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n\ufeffitems: []\n", "byte-order mark"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: &x {b: *x}\n", "an alias"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {when: 2001-02-30}\n", "ValueError"),
        ("apiVersion: x/../../healthz\nkind: Probe\nmetadata: {name: x}\n", "do not name a kind"),
        ("apiVersion: v1\nkind: Secret\nmetadata: {name: t}\ntype: kubernetes.io/service-account-token\n", "mint"),
        ("- just\n- a list\n", "not a mapping"),
    ],
    ids=[
        "items",
        "merge-key",
        "tag",
        "repeated-key",
        "set",
        "binary",
        "bom",
        "alias-cycle",
        "bad-timestamp",
        "path-in-api-version",
        "token",
        "not-object",
    ],
)
def test_what_helm_would_read_otherwise_or_could_abuse_is_refused(document: str, why: str) -> None:
    problems = refusals(f"---\n# Source: chart/templates/x.yaml\n{document}", NAMESPACE, ObjectRules(), built_in_only)
    assert len(problems) == 1 and why in problems[0], problems


def test_no_pod_may_run_as_the_account_helm_acts_as() -> None:
    template = {"spec": {"serviceAccountName": "helm-account", "containers": [{"name": "c", "image": "i"}]}}
    deployment = {**obj("Deployment", "web", "apps/v1"), "spec": {"template": template}}
    cron = {**obj("CronJob", "job", "batch/v1"), "spec": {"jobTemplate": {"spec": {"template": template}}}}
    manifest = stream(deployment, cron)
    assert refusals(manifest, NAMESPACE, ObjectRules(), built_in_only) == []
    assert refusals(manifest, NAMESPACE, ObjectRules(), built_in_only, account="helm-account") == [
        "Deployment web: a Pod may not run as helm-account, the account helm acts as",
        "CronJob job: a Pod may not run as helm-account, the account helm acts as",
    ]


def test_a_forged_crds_source_line_hides_nothing() -> None:
    """Values can forge helm's "# Source:" comment: only the chart's own files place a kind, never the render."""
    binding = obj("ClusterRoleBinding", "root", "rbac.authorization.k8s.io/v1")
    manifest = f"---\n# Source: chart/crds/a.yaml\n{yaml.safe_dump(binding)}"
    assert refusals(manifest, NAMESPACE, ObjectRules(), built_in_only) == [
        "ClusterRoleBinding root: cluster-scoped objects are not allowed (allowClusterScoped)"
    ]


WIDGETS = Path(__file__).resolve().parents[1] / "fixtures" / "charts" / "widgets"


@pytest.mark.parametrize("ships_crds", [True, False])
def test_only_a_first_install_of_a_chart_with_its_own_crds_falls_back_to_a_client_side_render(
    ships_crds: bool,
) -> None:
    world = World()
    if ships_crds:
        world.watch = replace(world.watch, chart=str(WIDGETS))
    world.helm.fail_render("cache", 'resource mapping not found for kind "Widget": ensure CRDs are installed first')
    world.cr("cache")
    (outcome,) = world.sync().outcomes
    calls = [(c.command, c.dry_run) for c in world.helm.calls if c.command != "version"]
    if ships_crds:
        assert outcome.result is Result.SUCCEEDED, outcome.message
        assert calls == [("upgrade", True), ("template", False), ("upgrade", False)]
        assert "--include-crds" not in world.helm.calls[1].argv
    else:  # the words alone (values can put them in helm's message) open nothing
        assert (outcome.result, calls) == (Result.FAILED, [("upgrade", True)])


def test_kinds_a_charts_own_crds_declare_place_only_kinds_not_served_yet() -> None:
    declared = {("example.io/v1", "Widget"): True, ("example.io/v1", "Realm"): False, ("v1", "Namespace"): True}
    manifest = stream(obj("Widget", "w", "example.io/v1"), obj("Realm", "r", "example.io/v1"), obj("Namespace", "n"))
    discovery = NoDiscovery()
    assert refusals(manifest, NAMESPACE, ObjectRules(), KindScopes(discovery).namespaced, declared=declared) == [
        "Realm r: cluster-scoped objects are not allowed (allowClusterScoped)",
        "Namespace n: cluster-scoped objects are not allowed (allowClusterScoped)",  # a declaration overrides nothing
    ]
    assert discovery.asked == ["/apis/example.io/v1"]
