"""What one CR, or one kind, can do to the others and to the run, on the real control plane with helm 3 and 4."""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from devenv.controlplane import ControlPlane
from devenv.crds import CRDS, establish_crd, free_form_crd
from devenv.helmcli import Helm
from tests.integration.support import (
    GROUP,
    REPO,
    SHARED_CHARTS,
    VERSION,
    Helmcr,
    Kind,
    Resources,
    bind_role,
    cache_watch,
    install_crd,
    releases,
    service_account,
    wait_for,
)

STORE = Kind("Store", "stores")
LOOKUP = str(REPO / "tests" / "fixtures" / "charts" / "lookup")


@pytest.fixture(scope="module")
def store_kind(kube: client.ApiClient) -> Kind:
    install_crd(kube, STORE)
    return STORE


def nested(depth: int) -> dict[str, Any]:
    spec: dict[str, Any] = {"leaf": "x"}
    for _ in range(depth - 1):
        spec = {"a": spec}
    return spec


def test_a_spec_nested_hundreds_of_levels_blocks_only_its_own_cr(
    helmcr: Helmcr, caches: Resources, namespace: str, helm: Helm
) -> None:
    helmcr.configure([cache_watch()])
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 5000))  # the test's own client serializes it recursively
    caches.create("deep", nested(600))
    caches.create("fine", {"replicaCount": 1})
    run = helmcr.sync("-n", namespace, "-o", "json")
    assert run.exit_code == 1, run.stderr[-2000:]
    assert (run.outcome("deep")["state"], run.outcome("fine")["result"]) == ("invalid", "succeeded")
    assert "nested more than 64 levels" in caches.ready("deep")["message"]
    assert "Traceback" not in run.stderr and releases(helm, namespace) == {"fine": (1, "deployed")}


def test_crs_of_two_kinds_never_share_one_release(
    helmcr: Helmcr, caches: Resources, kube: client.ApiClient, store_kind: Kind, namespace: str, helm: Helm
) -> None:
    stores = Resources(kube, store_kind, namespace)
    helmcr.configure([cache_watch(), cache_watch(kind=STORE.kind, plural=STORE.plural)])
    caches.create("dup", {"replicaCount": 1})
    stores.create("dup", {"replicaCount": 2})
    both = helmcr.sync("-n", namespace, "-o", "json")
    assert {(o["kind"], o["state"]) for o in both.report["outcomes"]} == {("Cache", "conflict"), ("Store", "conflict")}
    assert releases(helm, namespace) == {}, "neither installs what the other's CR also asks for"

    stores.delete("dup")
    assert helmcr.sync("-n", namespace).exit_code == 0
    stores.create("dup", {"replicaCount": 2})
    caches.patch_spec("dup", {"replicaCount": 3})
    owner_keeps = helmcr.sync("-n", namespace, "-o", "json")
    kinds = {o["kind"]: (o["action"], o["result"]) for o in owner_keeps.report["outcomes"]}
    assert kinds == {"Cache": ("upgrade", "succeeded"), "Store": ("blocked", "blocked")}
    stores.delete("dup")
    after = helmcr.sync("-n", namespace, "-o", "json")
    assert [o["kind"] for o in after.report["outcomes"]] == ["Cache"]
    assert releases(helm, namespace) == {"dup": (2, "deployed")}, "the Store CR's deletion touches nothing of Cache's"


def test_a_plural_of_another_crd_is_refused_and_uninstalls_nothing(
    helmcr: Helmcr, caches: Resources, store_kind: Kind, namespace: str, helm: Helm
) -> None:
    helmcr.configure([cache_watch()])
    caches.create("kept", {"replicaCount": 1})
    assert helmcr.sync("-n", namespace).exit_code == 0
    helmcr.configure([cache_watch(plural=STORE.plural)])
    preview = helmcr.run(("diff",), "-n", namespace, "-o", "json")
    run = helmcr.sync("-n", namespace, "-o", "json")
    for result in (preview, run):
        assert result.exit_code == 4 and result.report["outcomes"] == []
        assert any("StoreList, not CacheList" in e for e in result.report["errors"]), result.report["errors"]
    assert releases(helm, namespace) == {"kept": (1, "deployed")}


def test_a_release_waiting_out_its_backoff_is_not_converged(helmcr: Helmcr, caches: Resources, namespace: str) -> None:
    helmcr.configure([cache_watch(retryBackoff="10m", maxRetryBackoff="1h")])
    caches.create("bad", {"replicaCount": "not a number"})
    first = helmcr.sync("-n", namespace, "-o", "json")
    assert first.outcome("bad")["result"] == "failed"
    waiting = helmcr.sync("-n", namespace, "-o", "json")
    assert (waiting.outcome("bad")["action"], waiting.exit_code) == ("wait", 1)
    assert waiting.report["summary"]["waiting"] == 1 and waiting.report["summary"]["inSync"] == 0


REDIS = Kind("Vault", "vaults")
STEAL = '{{ fail (printf "X<%s>" ((lookup "v1" "Secret" .Release.Namespace "victim").data.password | b64dec)) }}'
VICTIM_PASSWORD = "victim-Pa55word-9f2c"


def victim_secret(kube: client.ApiClient, namespace: str, name: str = "victim") -> None:
    body = client.V1Secret(metadata=client.V1ObjectMeta(name=name), string_data={"password": VICTIM_PASSWORD})
    client.CoreV1Api(kube).create_namespaced_secret(namespace, body)


def test_a_template_in_a_value_the_chart_passes_to_tpl_is_refused(
    helmcr: Helmcr, kube: client.ApiClient, namespace: str, helm: Helm
) -> None:
    install_crd(kube, REDIS)
    vaults = Resources(kube, REDIS, namespace)
    victim_secret(kube, namespace)
    redis = {"group": GROUP, "version": "v1alpha1", "kind": REDIS.kind, "plural": REDIS.plural,
             "chart": str(SHARED_CHARTS / "redis"), "disableHooks": True}  # fmt: skip
    helmcr.configure([redis])
    vaults.create("thief", {"usePassword": False, "cluster": {"enabled": False}, "configmap": STEAL})
    vaults.create("honest", {"usePassword": False, "cluster": {"enabled": False}})
    run = helmcr.sync("-n", namespace, "-o", "json")
    assert (run.outcome("thief")["state"], run.outcome("honest")["result"]) == ("invalid", "succeeded")
    message = vaults.ready("thief")["message"]
    assert "spec.configmap holds a template action" in message and VICTIM_PASSWORD not in json.dumps(
        vaults.get("thief")
    )
    assert VICTIM_PASSWORD not in run.stdout + run.stderr
    assert set(releases(helm, namespace)) == {"honest"}


def test_a_pull_request_preview_never_runs_lookup_with_the_previews_credentials(
    helmcr: Helmcr, kube: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    victim_secret(kube, namespace, "ci-victim")
    helmcr.configure([cache_watch(chart=LOOKUP)])
    checkout = tmp_path / "pr"
    checkout.mkdir()
    spec = {"from": {"namespace": namespace, "name": "ci-victim"}}
    cr = {"apiVersion": f"{GROUP}/v1alpha1", "kind": "Cache", "metadata": {"name": "pr"}, "spec": spec}
    (checkout / "cr.yaml").write_text(yaml.safe_dump(cr))
    encoded = base64.b64encode(VICTIM_PASSWORD.encode()).decode()
    preview = helmcr.run(("diff",), "-n", namespace, "--from-file", str(checkout), "-o", "markdown")
    assert preview.exit_code == 0, preview.stderr
    assert "pr-copied" in preview.stdout and encoded not in preview.stdout and VICTIM_PASSWORD not in preview.stdout
    trusted = helmcr.run(("diff",), "-n", namespace, "--from-file", str(checkout), "--server-side-render", "-o", "json")
    assert encoded in trusted.stdout, "asked for, a server-side render does run the lookup (so the test can fail)"


def tenant_account(kube: client.ApiClient, namespace: str) -> None:
    """A ServiceAccount of the CR's namespace that may manage ConfigMaps and helm's records there, and no more."""
    service_account(kube, namespace, "tenant")
    rule = client.V1PolicyRule(api_groups=[""], resources=["configmaps", "secrets"], verbs=["*"])
    bind_role(kube, namespace, "tenant", [rule], "tenant")


@pytest.fixture
def other_namespace(kube: client.ApiClient, namespace: str) -> Iterator[str]:
    core = client.CoreV1Api(kube)
    name = f"{namespace[:50]}-other"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    core.delete_namespace(name)


def test_helm_as_the_kinds_service_account_reaches_only_what_that_account_may(
    helmcr: Helmcr, caches: Resources, kube: client.ApiClient, namespace: str, other_namespace: str, helm: Helm
) -> None:
    tenant_account(kube, namespace)
    victim_secret(kube, other_namespace)
    # Only the API server stands in the way here: the object check is opened up, so the test sees RBAC's bound.
    helmcr.configure([cache_watch(chart=LOOKUP, serviceAccountName="tenant", allowOtherNamespaces=True)])
    caches.create("plain", {})
    caches.create("reader", {"from": {"namespace": other_namespace, "name": "victim"}})
    caches.create("planter", {"elsewhere": other_namespace})
    run = helmcr.sync("-n", namespace, "-o", "json")
    results = {name: run.outcome(name)["result"] for name in ("plain", "reader", "planter")}
    assert results == {"plain": "succeeded", "reader": "failed", "planter": "failed"}, run.stdout[-3000:]
    assert "forbidden" in caches.ready("reader")["message"] and "forbidden" in caches.ready("planter")["message"]
    assert only_root_ca(kube, other_namespace), "nothing was planted in another namespace"
    encoded = base64.b64encode(VICTIM_PASSWORD.encode()).decode()
    assert encoded not in run.stdout + json.dumps(caches.get("reader"))

    helmcr.configure([cache_watch(chart=LOOKUP)])  # helmcr's own (admin) credentials: the same CR reads the Secret
    caches.annotate("reader", {"helmcr.io/retry": "as-admin"})
    assert helmcr.sync("-n", namespace, "-o", "json").outcome("reader")["result"] == "succeeded"
    copied = client.CoreV1Api(kube).read_namespaced_config_map("reader-copied", namespace).data or {}
    assert encoded in copied["copied"], "without impersonation the lookup does reach it (so the test can fail)"


def test_objects_outside_the_releases_namespace_are_refused_before_helm_applies_anything(
    helmcr: Helmcr, caches: Resources, kube: client.ApiClient, namespace: str, other_namespace: str
) -> None:
    helmcr.configure([cache_watch(chart=LOOKUP)])  # admin credentials: nothing but the check stops it
    caches.create("planter", {"elsewhere": other_namespace})
    caches.create("plain", {})
    run = helmcr.sync("-n", namespace, "-o", "json")
    planter = run.outcome("planter")
    assert (planter["result"], planter["errorKind"], run.outcome("plain")["result"]) == (
        "failed",
        "refused",
        "succeeded",
    )
    message = caches.ready("planter")["message"]
    assert f"ConfigMap planter-planted: namespace '{other_namespace}' is not the release's" in message, message
    assert only_root_ca(kube, other_namespace) and "planter" not in releases(helmcr.helm, namespace)
    assert run.exit_code == 1

    helmcr.configure([cache_watch(chart=LOOKUP, allowOtherNamespaces=True)])  # opened up, it goes (the test can fail)
    caches.annotate("planter", {"helmcr.io/retry": "allowed"})
    assert helmcr.sync("-n", namespace, "-o", "json").outcome("planter")["result"] == "succeeded"
    assert not only_root_ca(kube, other_namespace)


def only_root_ca(kube: client.ApiClient, namespace: str) -> bool:
    found = client.CoreV1Api(kube).list_namespaced_config_map(namespace).items
    return [c.metadata.name for c in found if c.metadata] == ["kube-root-ca.crt"]


PLAIN = Kind("Plain", "plains")


def test_a_crd_without_status_subresource_under_least_privilege_says_so_and_does_not_exit_0(
    helmcr: Helmcr, kube: client.ApiClient, namespace: str, control_plane: ControlPlane, tmp_path: Path
) -> None:
    crd = free_form_crd(GROUP, VERSION, PLAIN.kind, PLAIN.plural, {"x-kubernetes-preserve-unknown-fields": True})
    del crd["spec"]["versions"][0]["subresources"]
    establish_crd(kube, crd)
    kubeconfig = least_privilege_account(kube, control_plane, namespace, tmp_path)
    helmcr.configure(
        [{**cache_watch(chart=LOOKUP), "kind": PLAIN.kind, "plural": PLAIN.plural}], lease={"namespace": namespace}
    )
    Resources(kube, PLAIN, namespace).create("p", {})
    run = helmcr.sync("-n", namespace, "-o", "json", kubeconfig=kubeconfig)
    assert run.outcome("p")["result"] == "succeeded" and releases(helmcr.helm, namespace) == {"p": (1, "deployed")}
    assert run.exit_code == 1, "the release is there but its CR could not be told: not converged"
    said = run.stdout + run.stderr
    assert "no status subresource" in said and "deleted before its status" not in said, said[-2000:]


def least_privilege_account(
    kube: client.ApiClient, control_plane: ControlPlane, namespace: str, tmp_path: Path
) -> Path:
    """What a run of the lookup chart's kind asks for, as scaffold would grant it: a status it cannot write."""
    rules = [
        client.V1PolicyRule(api_groups=[GROUP], resources=[PLAIN.plural], verbs=["list"]),
        client.V1PolicyRule(api_groups=[GROUP], resources=[f"{PLAIN.plural}/status"], verbs=["patch"]),
        client.V1PolicyRule(api_groups=[""], resources=["events"], verbs=["create"]),
        client.V1PolicyRule(
            api_groups=[""], resources=["secrets"], verbs=["get", "list", "create", "update", "delete"]
        ),
        client.V1PolicyRule(api_groups=[""], resources=["configmaps"], verbs=["get", "create", "patch", "delete"]),
        client.V1PolicyRule(
            api_groups=["coordination.k8s.io"], resources=["leases"], verbs=["get", "create", "update"]
        ),
    ]
    service_account(kube, namespace, "runner")
    bind_role(kube, namespace, "runner", rules, "runner")
    return control_plane.service_account_kubeconfig(namespace, "runner", tmp_path / "runner.kubeconfig")


EXTRAS = str(REPO / "tests" / "fixtures" / "charts" / "extras")
WIDGETS = REPO / "tests" / "fixtures" / "charts" / "widgets"


def test_an_object_hidden_in_an_items_list_is_checked_like_any_other(
    helmcr: Helmcr, caches: Resources, kube: client.ApiClient, namespace: str
) -> None:
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": f"{namespace}-root"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": namespace}],
    }
    disguised = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "innocent"}, "items": [binding]}
    helmcr.configure([cache_watch(chart=EXTRAS)])  # admin credentials: nothing but the check stands in the way
    caches.create("sneaky", {"extraObjects": [disguised]})
    run = helmcr.sync("-n", namespace, "-o", "json")
    outcome = run.outcome("sneaky")
    assert (outcome["result"], outcome.get("errorKind")) == ("failed", "refused"), outcome
    assert f"ClusterRoleBinding {namespace}-root: cluster-scoped objects are not allowed" in outcome["message"]
    bindings = client.RbacAuthorizationV1Api(kube).list_cluster_role_binding().items
    assert f"{namespace}-root" not in {b.metadata.name for b in bindings if b.metadata}


def test_a_chart_whose_templates_need_its_own_crds_installs_and_is_checked(
    helmcr: Helmcr, caches: Resources, kube: client.ApiClient, namespace: str
) -> None:
    custom = client.CustomObjectsApi(kube)
    try:
        helmcr.configure([cache_watch(chart=str(WIDGETS))])
        caches.create("w", {"size": 2})
        run = helmcr.sync("-n", namespace, "-o", "json")
        assert run.outcome("w")["result"] == "succeeded", run.stdout[-2000:]
        widget: Any = custom.get_namespaced_custom_object("fixtures.helmcr.io", "v1", namespace, "widgets", "w")
        assert widget["spec"] == {"size": 2}
    finally:  # gone before the other helm's run, which then installs the chart's CRD afresh too
        try:
            custom.delete_cluster_custom_object(*CRDS, "widgets.fixtures.helmcr.io")
            wait_for(lambda: not crd_exists(custom, "widgets.fixtures.helmcr.io"), "the chart's CRD to be deleted")
        except client.ApiException as error:
            if error.status != 404:
                raise


def crd_exists(custom: client.CustomObjectsApi, name: str) -> bool:
    try:
        custom.get_cluster_custom_object(*CRDS, name)
    except client.ApiException as error:
        if error.status == 404:
            return False
        raise
    return True


RAW = str(REPO / "tests" / "fixtures" / "charts" / "raw")


@pytest.mark.parametrize(
    "pasted",
    [
        "data: {}\n------\n# Source: raw/crds/forged.yaml\napiVersion: rbac.authorization.k8s.io/v1\n"
        "kind: ClusterRoleBinding\nmetadata: {name: NAMESPACE-root}\n"
        "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\n"
        "subjects: [{kind: ServiceAccount, name: default, namespace: NAMESPACE}]",
        "\ufeff  namespace: OTHER",
        "  <<: {namespace: OTHER}",
    ],
    ids=["forged-crds-source", "byte-order-mark", "merge-key"],
)
def test_yaml_helm_reads_otherwise_than_helmcr_plants_nothing(
    helmcr: Helmcr, caches: Resources, kube: client.ApiClient, namespace: str, other_namespace: str, pasted: str
) -> None:
    helmcr.configure([cache_watch(chart=RAW)])  # admin credentials: nothing but the check stands in the way
    caches.create("raw", {"labels": pasted.replace("NAMESPACE", namespace).replace("OTHER", other_namespace)})
    run = helmcr.sync("-n", namespace, "-o", "json")
    outcome = run.outcome("raw")
    assert outcome["result"] == "failed" and "Traceback" not in run.stderr, run.stdout[-2000:] + run.stderr
    assert outcome.get("errorKind") == "refused", outcome  # by helmcr's check, before helm applied anything
    assert only_root_ca(kube, other_namespace), "nothing was planted in another namespace"
    bindings = client.RbacAuthorizationV1Api(kube).list_cluster_role_binding().items
    assert f"{namespace}-root" not in {b.metadata.name for b in bindings if b.metadata}
    assert "raw" not in releases(helmcr.helm, namespace)
