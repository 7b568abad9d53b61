"""Least-privilege RBAC from what a chart renders: kinds → resources, scopes → Roles or a ClusterRole."""

from __future__ import annotations

from typing import Any

import pytest

from reconcile.scaffold.kinds import CustomKind, removal_note, resource_of
from reconcile.scaffold.rbac import (
    Grant,
    Scope,
    chart_grants,
    merged,
    rbac_documents,
    resource_grants,
    run_grants,
)
from reconcile.scaffold.render import RenderedObject, parse_manifests, switches, turned_on

KIND = CustomKind("cache.example.com", "v1alpha1", "Memcached", "memcacheds")
HELM_TEMPLATE_OUTPUT = """\
---
# Source: memcached/templates/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: helmcr-scaffold-memcached
  namespace: helmcr-release-namespace
---
# Source: memcached/templates/statefulset.yaml
apiVersion: apps/v1beta1
kind: StatefulSet
metadata:
  name: helmcr-scaffold-memcached
---
# Source: memcached/templates/pdb.yaml
apiVersion: policy/v1beta1
kind: PodDisruptionBudget
metadata:
  name: helmcr-scaffold-memcached
  annotations:
    helm.sh/hook: post-install
---
# Source: memcached/templates/empty.yaml
# nothing rendered here
"""


def rendered(kind: str, api_version: str = "v1", **fields: Any) -> RenderedObject:
    return RenderedObject(api_version, kind, fields.pop("name", kind.lower()), "", f"c/templates/{kind}.yaml", **fields)


def rules_by_resource(document: dict[str, Any]) -> dict[str, list[str]]:
    return {f"{r['apiGroups'][0]}/{res}": r["verbs"] for r in document["rules"] for res in r["resources"]}


def test_helm_template_output_is_parsed_with_sources_hooks_and_the_release_namespace_blanked() -> None:
    objects = parse_manifests(HELM_TEMPLATE_OUTPUT)
    assert [(o.api_version, o.kind, o.namespace, o.source, o.hook) for o in objects] == [
        ("v1", "Service", "", "memcached/templates/service.yaml", False),
        ("apps/v1beta1", "StatefulSet", "", "memcached/templates/statefulset.yaml", False),
        ("policy/v1beta1", "PodDisruptionBudget", "", "memcached/templates/pdb.yaml", True),
    ]


def test_switches_are_the_enabled_and_create_flags_that_are_off() -> None:
    values = {"metrics": {"enabled": False, "serviceMonitor": {"enabled": False}}, "rbac": {"create": True}, "x": 1}
    found = list(switches(values))
    assert found == [("metrics", "enabled"), ("metrics", "serviceMonitor", "enabled")]
    assert turned_on(found) == {"metrics": {"enabled": True, "serviceMonitor": {"enabled": True}}}


@pytest.mark.parametrize(
    ("api_version", "kind", "expected"),
    [
        ("apps/v1", "StatefulSet", ("apps", "statefulsets", True, True)),
        ("apps/v1beta1", "StatefulSet", ("apps", "statefulsets", True, True)),
        ("v1", "Endpoints", ("", "endpoints", True, True)),
        ("networking.k8s.io/v1", "IngressClass", ("networking.k8s.io", "ingressclasses", False, True)),
        ("rbac.authorization.k8s.io/v1", "ClusterRole", ("rbac.authorization.k8s.io", "clusterroles", False, True)),
        ("monitoring.coreos.com/v1", "ServiceMonitor", ("monitoring.coreos.com", "servicemonitors", True, False)),
    ],
)
def test_kinds_map_to_resources_and_scope(api_version: str, kind: str, expected: tuple[str, str, bool, bool]) -> None:
    resource = resource_of(api_version, kind)
    assert (resource.group, resource.resource, resource.namespaced, resource.known) == expected


def test_api_versions_kubernetes_no_longer_serves_are_named() -> None:
    assert "Kubernetes ≥1.16 no longer serves" in removal_note("apps/v1beta1", "StatefulSet")
    assert removal_note("apps/v1", "StatefulSet") == ""


def test_the_default_is_one_role_in_one_namespace_with_only_what_a_run_uses() -> None:
    scope = Scope("team-a", ("team-a",))
    grants, warnings = chart_grants(scope, parse_manifests(HELM_TEMPLATE_OUTPUT))
    all_grants = merged([*resource_grants(scope, KIND), *run_grants(scope), *grants])
    documents = rbac_documents("helmcr-memcached", "team-a", all_grants, {})
    assert [d["kind"] for d in documents] == ["ServiceAccount", "Role", "RoleBinding"]
    assert {d["metadata"]["namespace"] for d in documents} == {"team-a"}
    assert rules_by_resource(documents[1]) == {
        "cache.example.com/memcacheds": ["list"],
        "cache.example.com/memcacheds/status": ["patch"],
        "/events": ["create"],
        "/secrets": ["get", "list", "create", "update", "delete"],
        "coordination.k8s.io/leases": ["get", "create", "update"],
        "/services": ["get", "create", "patch", "delete"],
        "apps/statefulsets": ["get", "create", "patch", "delete"],
        "policy/poddisruptionbudgets": ["get", "list", "watch", "create", "patch", "delete"],  # a hook: helm waits
    }
    assert documents[2]["subjects"] == [{"kind": "ServiceAccount", "name": "helmcr-memcached", "namespace": "team-a"}]
    assert warnings == []


def test_several_watched_namespaces_get_a_role_each_and_the_lease_stays_home() -> None:
    scope = Scope("ops", ("team-a", "team-b"))
    grants = merged([*resource_grants(scope, KIND), *run_grants(scope), *chart_grants(scope, [rendered("Service")])[0]])
    documents = rbac_documents("helmcr-memcached", "ops", grants, {})
    roles = {d["metadata"]["namespace"]: rules_by_resource(d) for d in documents if d["kind"] == "Role"}
    assert list(roles) == ["ops", "team-a", "team-b"]
    assert roles["ops"] == {"coordination.k8s.io/leases": ["get", "create", "update"]}
    assert "/services" in roles["team-b"] and "coordination.k8s.io/leases" not in roles["team-b"]
    assert all(d["kind"] != "ClusterRole" for d in documents)


def test_every_namespace_means_a_cluster_role_except_for_the_lease() -> None:
    scope = Scope("ops", None)
    grants = merged([*resource_grants(scope, KIND), *run_grants(scope), *chart_grants(scope, [rendered("Service")])[0]])
    kinds = {(d["kind"], d["metadata"]["name"]) for d in rbac_documents("helmcr-memcached", "ops", grants, {})}
    assert ("ClusterRole", "helmcr-memcached-ops") in kinds and ("ClusterRoleBinding", "helmcr-memcached-ops") in kinds
    assert [g.resource for g in grants if g.namespace == "ops"] == ["leases"]


def test_a_cluster_scoped_kind_lists_cluster_wide_and_installs_into_helmcrs_namespace() -> None:
    kind = CustomKind("example.com", "v1", "Tenant", "tenants", namespaced=False)
    scope = Scope("ops", None, cluster_kind=True)
    grants = merged([*resource_grants(scope, kind), *run_grants(scope)])
    assert {(g.namespace, g.resource) for g in grants} == {
        (None, "tenants"),
        (None, "tenants/status"),
        ("default", "events"),  # where Kubernetes keeps Events about cluster-scoped objects
        ("ops", "secrets"),
        ("ops", "leases"),
    }


def test_cluster_scoped_chart_kinds_go_to_a_cluster_role_and_rendered_roles_are_held_first() -> None:
    rule = {"apiGroups": [""], "resources": ["endpoints"], "verbs": ["get"], "resourceNames": ["x"]}
    objects = [
        rendered(
            "ClusterRole",
            "rbac.authorization.k8s.io/v1",
            rules=({"apiGroups": [""], "resources": ["nodes"], "verbs": ["list"]},),
        ),
        rendered("Role", "rbac.authorization.k8s.io/v1", rules=(rule,)),
        rendered("RoleBinding", "rbac.authorization.k8s.io/v1", role_ref={"kind": "ClusterRole", "name": "view"}),
    ]
    grants, warnings = chart_grants(Scope("ops", ("ops",)), objects)
    assert Grant(None, "rbac.authorization.k8s.io", "clusterroles", ("get", "create", "patch", "delete"), "") in [
        Grant(g.namespace, g.group, g.resource, g.verbs, "") for g in grants
    ]
    held = {(g.namespace, g.resource, g.verbs, g.resource_names) for g in grants if "held" in g.why}
    assert held == {(None, "nodes", ("list",), ()), ("ops", "endpoints", ("get",), ("x",))}
    assert warnings == [
        "RoleBinding rolebinding binds ClusterRole view, which the chart does not render: helmcr can only create "
        "the binding if it holds that role's permissions"
    ]


def test_unknown_kinds_and_objects_in_fixed_namespaces_are_warned_about() -> None:
    objects = [
        rendered("ServiceMonitor", "monitoring.coreos.com/v1"),
        RenderedObject("v1", "ConfigMap", "c", "kube-system", ""),
    ]
    grants, warnings = chart_grants(Scope("ops", ("ops",)), objects)
    assert {g.resource for g in grants} == {"servicemonitors", "configmaps"}
    assert "not a built-in kind: granted as namespaced resource servicemonitors.monitoring.coreos.com" in warnings[0]
    assert "rendered into namespace 'kube-system'" in warnings[1]


def test_merging_unions_verbs_and_reasons_per_resource() -> None:
    grants = merged(
        [
            Grant("a", "", "secrets", ("get", "list"), "helm's release records"),
            Grant("a", "", "secrets", ("create", "get"), "the chart renders Secret"),
        ]
    )
    assert grants == [
        Grant("a", "", "secrets", ("get", "list", "create"), "helm's release records; the chart renders Secret")
    ]
    assert str(Grant("a", "g.io", "things/status", ("patch",), "why")) == "namespace a: things.g.io/status [patch]: why"
