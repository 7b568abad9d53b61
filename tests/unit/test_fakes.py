"""The fakes do not lie: each test goes through the real adapters (Kube, Helm, helm_storage, observed_releases) and
checks what the real API server and the real helm would have done, so an orchestration test built on the fakes
fails where helmcr would fail in a cluster."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import pytest

from reconcile.adapters.helm_storage import mark_failed, read_release, record_name
from reconcile.adapters.kube import SECRETS, ResourceType
from reconcile.errors import (
    HelmConflict,
    HelmError,
    HelmInterrupted,
    HelmReleaseLocked,
    HelmRenderError,
    HelmTimeout,
    KubeConflict,
    KubeError,
    KubeForbidden,
    KubeNotFound,
    KubeTransient,
)
from reconcile.labels import named_selector, owned_selector, ownership_labels
from reconcile.model import ChartRef, ReleaseKey, ReleaseStatus, ResourceRef
from reconcile.observed import observed_releases
from reconcile.settings import HelmOptions
from tests.unit.fakes import FakeApiServer, FakeHelm, FakeKube, RenderFailed, default_render

CACHES = ResourceType("anywhere.io", "v1alpha1", "memcacheds")
PLAINS = ResourceType("anywhere.io", "v1alpha1", "plains")  # a CRD without the status subresource
NS = "team-a"
KEY = ReleaseKey(NS, "cache")
CHART = ChartRef(source="/charts/memcached", identity="sha256:abc", name="memcached", version="0.1.0")
OWNER = ResourceRef(group="anywhere.io", kind="Memcached", namespace=NS, name="cache", uid="uid-1")
OPTIONS = HelmOptions()


@pytest.fixture
def server() -> FakeApiServer:
    server = FakeApiServer(clock=lambda: 1_800_000_000.0)
    server.add_crd(CACHES)
    server.add_crd(PLAINS, status_subresource=False)
    return server


@pytest.fixture
def kube(server: FakeApiServer) -> FakeKube:
    return FakeKube(server)


@pytest.fixture
def helm(server: FakeApiServer) -> FakeHelm:
    return FakeHelm(server)


def cr(name: str, spec: dict[str, Any] | None = None, **metadata: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, **metadata}, "spec": spec if spec is not None else {"replicas": 1}}


def records(kube: FakeKube, selector: str = "owner=helm") -> list[dict[str, Any]]:
    return kube.list(SECRETS, NS, 100, selector, metadata_only=True)


def history(kube: FakeKube) -> dict[int, str]:
    """revision → status label of every record of the release."""
    return {int(r["metadata"]["labels"]["version"]): r["metadata"]["labels"]["status"] for r in records(kube)}


def latest(kube: FakeKube) -> tuple[int, ReleaseStatus]:
    (release,) = observed_releases(records(kube))
    return release.revision, release.status


# --- the API server ------------------------------------------------------------------------------------------


def test_list_pages_over_limit_with_continue_tokens_one_request_per_page(server: FakeApiServer, kube: FakeKube) -> None:
    for name in ("e", "c", "a", "d", "b"):
        server.create(CACHES, NS, cr(name))
    server.create(CACHES, "other", cr("a"))

    items = kube.list(CACHES, NS, 2)

    assert [item["metadata"]["name"] for item in items] == ["a", "b", "c", "d", "e"]
    assert kube.requests == 3 == server.count("GET", "memcacheds")
    assert [request.query.get("continue", "") != "" for request in server.requests] == [False, True, True]
    assert all(request.query["limit"] == "2" for request in server.requests)
    everywhere = kube.list(CACHES, None, 100)
    assert [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in everywhere][:2] == [("other", "a"), (NS, "a")]


def test_a_continued_list_is_the_snapshot_of_its_first_page_and_an_expired_token_is_410(
    server: FakeApiServer, kube: FakeKube
) -> None:
    for name in ("a", "b", "c"):
        server.create(CACHES, NS, cr(name))
    path = CACHES.path(NS)
    first = kube.request("GET", path, {"limit": "2"})
    assert first["metadata"]["remainingItemCount"] == 1 and first["metadata"]["continue"]
    server.create(CACHES, NS, cr("bb"))
    rest = kube.request("GET", path, {"limit": "2", "continue": first["metadata"]["continue"]})
    assert [item["metadata"]["name"] for item in rest["items"]] == ["c"] and "continue" not in rest["metadata"]

    again = kube.request("GET", path, {"limit": "1"})
    server.expire_continue_tokens()
    with pytest.raises(KubeError, match="too old") as expired:
        kube.request("GET", path, {"limit": "1", "continue": again["metadata"]["continue"]})
    assert not expired.value.retryable


def test_metadata_only_lists_hold_only_metadata(server: FakeApiServer, kube: FakeKube) -> None:
    server.create(SECRETS, NS, {"metadata": {"name": "s", "labels": {"a": "1"}}, "data": {"k": "dg=="}})

    (partial,) = kube.list(SECRETS, NS, 10, metadata_only=True)
    (whole,) = kube.list(SECRETS, NS, 10)

    assert set(partial) == {"apiVersion", "kind", "metadata"}
    assert (partial["apiVersion"], partial["kind"]) == ("meta.k8s.io/v1", "PartialObjectMetadata")
    assert partial["metadata"]["labels"] == {"a": "1"} and partial["metadata"]["uid"]
    assert whole["data"] == {"k": "dg=="} and "kind" not in whole  # typed lists' items carry no kind
    page = kube.request("GET", SECRETS.path(NS), accept="application/json;as=PartialObjectMetadataList;g=meta.k8s.io")
    assert page["kind"] == "PartialObjectMetadataList"


SELECTED = {
    "plain": {},
    "helm-x": {"owner": "helm", "name": "x", "tier": "web"},
    "helm-y": {"owner": "helm", "name": "y"},
    "helm-z": {"owner": "helm", "name": "z", "tier": "db"},
}


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("owner=helm", ["helm-x", "helm-y", "helm-z"]),
        ("owner==helm,tier=web", ["helm-x"]),
        ("tier!=web", ["helm-y", "helm-z", "plain"]),
        ("name in (x, z)", ["helm-x", "helm-z"]),
        ("name notin (x,z)", ["helm-y", "plain"]),
        ("tier", ["helm-x", "helm-z"]),
        ("!tier", ["helm-y", "plain"]),
        ("owner=helm, !tier", ["helm-y"]),
        (named_selector(["z", "y"]), ["helm-y", "helm-z"]),
    ],
)
def test_label_selectors(server: FakeApiServer, kube: FakeKube, selector: str, expected: list[str]) -> None:
    for name, labels in SELECTED.items():
        server.create(SECRETS, NS, {"metadata": {"name": name, "labels": labels}})
    assert sorted(s["metadata"]["name"] for s in kube.list(SECRETS, NS, 2, selector, metadata_only=True)) == expected


def test_owned_selector_finds_only_the_kinds_own_releases(server: FakeApiServer, kube: FakeKube) -> None:
    other = ResourceRef(group="anywhere.io", kind="Redis", namespace=NS, name="r", uid="u2")
    for name, labels in (("mine", ownership_labels(OWNER, "d")), ("theirs", ownership_labels(other, "d"))):
        server.create(SECRETS, NS, {"metadata": {"name": name, "labels": {"owner": "helm", "name": name, **labels}}})
    found = kube.list(SECRETS, NS, 10, owned_selector("anywhere.io", "Memcached"), metadata_only=True)
    assert [s["metadata"]["name"] for s in found] == ["mine"]
    with pytest.raises(KubeError, match="invalid label selector"):
        kube.list(SECRETS, NS, 10, "owner=helm,")


def test_api_errors_become_the_typed_kube_errors(server: FakeApiServer, kube: FakeKube) -> None:
    with pytest.raises(KubeNotFound, match=re.escape('memcacheds.anywhere.io "nope" not found')):
        kube.get(CACHES, NS, "nope")
    with pytest.raises(KubeNotFound, match="the server could not find the requested resource"):
        kube.list(ResourceType("other.io", "v1", "things"), NS, 10)
    kube.create(CACHES, NS, cr("a"))
    with pytest.raises(KubeConflict, match="already exists"):
        kube.create(CACHES, NS, cr("a"))
    stale = kube.get(CACHES, NS, "a")
    kube.patch(CACHES, NS, "a", {"spec": {"replicas": 2}})
    with pytest.raises(KubeConflict, match="the object has been modified"):
        kube.replace(CACHES, NS, "a", {**stale, "spec": {"replicas": 3}})
    with pytest.raises(KubeError, match="must be specified for an update"):
        kube.replace(CACHES, NS, "a", cr("a"))


def test_forbid_down_and_fail_next(server: FakeApiServer, kube: FakeKube) -> None:
    server.forbid("GET", "secrets", NS)
    refusal = 'User "system:serviceaccount:helmcr:helmcr" cannot list resource "secrets" in API group ""'
    refusal += ' in the namespace "team-a"'
    with pytest.raises(KubeForbidden, match=re.escape(refusal)):
        kube.list(SECRETS, NS, 10)
    with pytest.raises(KubeForbidden, match="at the cluster scope"):
        kube.list(SECRETS, None, 10)
    assert kube.list(SECRETS, "elsewhere", 10) == []

    server.fail_next("GET", "memcacheds", 500)
    with pytest.raises(KubeTransient, match="Internal error"):
        kube.list(CACHES, NS, 10)
    assert kube.list(CACHES, NS, 10) == []
    server.fail_next("POST", "events", 409, times=2)
    for _ in range(2):
        with pytest.raises(KubeConflict):
            kube.create(ResourceType("", "v1", "events"), NS, {"metadata": {"generateName": "x."}})

    server.down = True
    before = kube.requests
    with pytest.raises(
        KubeTransient, match=re.escape("cannot reach the API server at https://fake-apiserver.invalid:6443")
    ):
        kube.get(CACHES, NS, "a")
    assert kube.requests == before + 1 and server.requests[-1].method == "GET"


def test_create_assigns_identity_and_post_drops_a_status_subresource(server: FakeApiServer, kube: FakeKube) -> None:
    created = kube.create(CACHES, NS, {**cr("", generateName="cache-"), "status": {"ready": True}})
    metadata = created["metadata"]
    assert metadata["name"].startswith("cache-") and len(metadata["name"]) == len("cache-") + 5
    assert (metadata["namespace"], metadata["generation"]) == (NS, 1)
    assert metadata["uid"] and metadata["resourceVersion"] and metadata["creationTimestamp"] == "2027-01-15T08:00:00Z"
    assert "status" not in created and (created["apiVersion"], created["kind"]) == ("anywhere.io/v1alpha1", "Memcached")
    seeded = server.create(CACHES, NS, {**cr("seeded"), "status": {"ready": True}})
    assert seeded["status"] == {"ready": True}
    secret = kube.create(SECRETS, NS, {"metadata": {"name": "s"}, "stringData": {"k": "v"}})
    assert secret["data"] == {"k": "dg=="} and "stringData" not in secret and "generation" not in secret["metadata"]
    with pytest.raises(KubeError, match="must be no more than 63 characters"):
        kube.create(SECRETS, NS, {"metadata": {"name": "t", "labels": {"a": "x" * 64}}})


def test_generation_counts_spec_changes_and_a_no_op_write_is_not_written(server: FakeApiServer, kube: FakeKube) -> None:
    kube.create(CACHES, NS, cr("a"))
    current = kube.get(CACHES, NS, "a")
    relabelled = kube.replace(CACHES, NS, "a", {**current, "metadata": {**current["metadata"], "labels": {"x": "1"}}})
    assert relabelled["metadata"]["generation"] == 1
    assert int(relabelled["metadata"]["resourceVersion"]) > int(current["metadata"]["resourceVersion"])
    respecced = kube.replace(CACHES, NS, "a", {**relabelled, "spec": {"replicas": 5}})
    assert respecced["metadata"]["generation"] == 2
    unchanged = kube.patch(CACHES, NS, "a", {"spec": {"replicas": 5}})
    assert unchanged["metadata"]["resourceVersion"] == respecced["metadata"]["resourceVersion"]


def test_status_subresource_semantics(server: FakeApiServer, kube: FakeKube) -> None:
    server.create(CACHES, NS, cr("a", spec={"replicas": 1, "size": "s"}))
    written = kube.patch(CACHES, NS, "a", {"status": {"phase": "Ready"}, "spec": {"replicas": 9}}, "status")
    assert (written["status"], written["spec"]["replicas"], written["metadata"]["generation"]) == (
        {"phase": "Ready"},
        1,
        1,
    )
    ignored = kube.patch(CACHES, NS, "a", {"status": {"phase": "Lost"}, "spec": {"size": None}})
    assert ignored["status"] == {"phase": "Ready"} and ignored["spec"] == {"replicas": 1}  # null deletes
    assert server.count("PATCH", "memcacheds/status") == 1 and server.count("PATCH", "memcacheds") == 1

    server.create(PLAINS, NS, cr("p"))
    with pytest.raises(KubeNotFound):
        kube.patch(PLAINS, NS, "p", {"status": {"phase": "Ready"}}, "status")
    plain = kube.patch(PLAINS, NS, "p", {"status": {"phase": "Ready"}})
    assert plain["status"] == {"phase": "Ready"} and plain["metadata"]["generation"] == 2


def test_cluster_scoped_kinds_live_outside_namespaces(server: FakeApiServer, kube: FakeKube) -> None:
    clusters = ResourceType("anywhere.io", "v1", "clustercaches")
    server.add_crd(clusters, namespaced=False, kind="ClusterCache")
    created = kube.create(clusters, None, cr("c", namespace="ignored"))
    assert "namespace" not in created["metadata"] and server.requests[-1].path == "/apis/anywhere.io/v1/clustercaches"
    assert kube.get(clusters, None, "c")["kind"] == "ClusterCache"
    with pytest.raises(KubeNotFound, match="could not find the requested resource"):
        kube.get(clusters, NS, "c")
    with pytest.raises(KubeNotFound, match="could not find the requested resource"):
        kube.get(CACHES, None, "a")  # a namespaced kind has no cluster-scoped objects to GET


def test_delete_waits_for_finalizers(server: FakeApiServer, kube: FakeKube) -> None:
    server.create(CACHES, NS, cr("gone"))
    server.create(CACHES, NS, cr("held", finalizers=["anywhere.io/cleanup"]))
    kube.request("DELETE", CACHES.path(NS, "gone"))
    kube.request("DELETE", CACHES.path(NS, "held"))
    assert [o["metadata"]["name"] for o in server.objects(CACHES)] == ["held"]
    assert server.get(CACHES, NS, "held")["metadata"]["deletionTimestamp"]
    kube.patch(CACHES, NS, "held", {"metadata": {"finalizers": None}})
    assert server.objects(CACHES) == []


# --- helm ----------------------------------------------------------------------------------------------------


def test_install_upgrade_uninstall_seen_through_the_release_records(helm: FakeHelm, kube: FakeKube) -> None:
    labels = ownership_labels(OWNER, "d1")
    assert helm.upgrade(KEY, CHART, {"replicaCount": 1}, labels, OPTIONS) == 1
    assert latest(kube) == (1, ReleaseStatus.DEPLOYED)
    assert helm.upgrade(KEY, CHART, {"replicaCount": 2}, {"helmcr.io/digest": "d2", "extra": "e"}, OPTIONS) == 2

    assert history(kube) == {1: "superseded", 2: "deployed"}
    (observed,) = observed_releases(records(kube, owned_selector("anywhere.io", "Memcached")))
    assert (observed.revision, observed.digest, observed.owner, observed.ever_deployed) == (2, "d2", OWNER, True)
    record = kube.get(SECRETS, NS, record_name(KEY, 2))
    assert record["type"] == "helm.sh/release.v1"
    assert record["metadata"]["labels"] == {
        **labels,
        "helmcr.io/digest": "d2",
        "extra": "e",
        "owner": "helm",
        "name": "cache",
        "status": "deployed",
        "version": "2",
        "modifiedAt": "1800000000",
    }

    helm.uninstall(KEY, OPTIONS)
    assert records(kube) == []
    with pytest.raises(HelmError, match="uninstall: Release not loaded: cache: release: not found"):
        helm.uninstall(KEY, OPTIONS)
    commands = [call.command for call in helm.calls]
    assert helm.processes == 5 and commands == ["version"] + ["upgrade"] * 2 + ["uninstall"] * 2  # version: once


def test_read_release_decodes_what_fake_helm_stored(helm: FakeHelm, kube: FakeKube) -> None:
    helm.upgrade(KEY, CHART, {"replicaCount": 3, "auth": {"user": "u"}}, {"team": "a"}, OPTIONS)
    release = read_release(kube, KEY, 1)
    assert release["config"] == {"replicaCount": 3, "auth": {"user": "u"}}
    assert (release["name"], release["namespace"], release["version"]) == ("cache", NS, 1)
    assert release["info"]["status"] == "deployed" and release["info"]["first_deployed"] == "2027-01-15T08:00:00Z"
    assert release["chart"]["metadata"] == {"apiVersion": "v2", "name": "memcached", "version": "0.1.0"}
    assert release["manifest"].startswith("---\n# Source: memcached/templates/configmap.yaml\n")
    assert "auth.user: u" in release["manifest"] and "replicaCount: '3'" in release["manifest"]
    assert "labels" not in release and "hooks" not in release  # labels live on the record; empty fields omitted


HOOKED = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: cache}
---
apiVersion: batch/v1
kind: Job
metadata:
  name: cache-migrate
  annotations: {helm.sh/hook: "pre-install,pre-upgrade", helm.sh/hook-weight: "5"}
"""


def test_a_server_dry_run_renders_hooks_and_stores_nothing(server: FakeApiServer, kube: FakeKube) -> None:
    helm = FakeHelm(server, render=lambda release, namespace, values: HOOKED)
    manifest = helm.render(KEY, CHART, {"a": 1}, OPTIONS, offline=False)
    assert "kind: ConfigMap" in manifest and "name: cache-migrate" in manifest
    assert records(kube) == [] and "--dry-run=server" in helm.calls[-1].argv
    helm.upgrade(KEY, CHART, {"a": 1}, {}, OPTIONS)
    (hook,) = read_release(kube, KEY, 1)["hooks"]
    assert (hook["kind"], hook["events"], hook["weight"]) == ("Job", ["pre-install", "pre-upgrade"], 5)
    offline = helm.render(KEY, CHART, {"a": 1}, HelmOptions(disable_hooks=True), offline=True)
    assert "cache-migrate" not in offline and "# Source: memcached/templates/configmap.yaml" in offline


def test_a_local_charts_name_and_version_come_from_its_chart_yaml(
    helm: FakeHelm, kube: FakeKube, tmp_path: Path
) -> None:
    (tmp_path / "Chart.yaml").write_text("apiVersion: v2\nname: memcached\nversion: 1.2.3\n")
    helm.upgrade(KEY, ChartRef(source=str(tmp_path), identity="sha256:x"), {}, {}, OPTIONS)
    metadata = read_release(kube, KEY, 1)["chart"]["metadata"]
    assert (metadata["name"], metadata["version"]) == ("memcached", "1.2.3")


def test_template_merges_the_values_layers_in_order(helm: FakeHelm) -> None:
    layers: list[dict[str, Any]] = [{"a": "1", "n": {"x": 1, "y": 1}}, {"n": {"y": 2}}]
    text = helm.template("cache", "/charts/memcached", NS, layers, hooks=True)
    assert text == "---\n# Source: memcached/templates/configmap.yaml\n" + default_render(
        "cache", NS, {"a": "1", "n": {"x": 1, "y": 2}}
    )
    assert helm.calls[-1].values == {"a": "1", "n": {"x": 1, "y": 2}} and helm.calls[-1].values_modes == (0o600,) * 2


def test_a_killed_upgrade_stays_pending_until_mark_failed(helm: FakeHelm, kube: FakeKube) -> None:
    helm.upgrade(KEY, CHART, {"a": 1}, {}, OPTIONS)
    helm.leave_pending("cache")
    with pytest.raises(HelmInterrupted, match="signal 9"):
        helm.upgrade(KEY, CHART, {"a": 2}, {}, OPTIONS)
    assert latest(kube) == (2, ReleaseStatus.PENDING_UPGRADE)
    pending = kube.get(SECRETS, NS, record_name(KEY, 2))["metadata"]["labels"]
    assert "createdAt" in pending and "modifiedAt" not in pending  # helm's driver: created, never updated
    with pytest.raises(HelmReleaseLocked):
        helm.upgrade(KEY, CHART, {"a": 2}, {}, OPTIONS)
    with pytest.raises(HelmReleaseLocked):
        helm.render(KEY, CHART, {"a": 2}, OPTIONS, offline=False)

    mark_failed(kube, KEY, 2, "helm was killed")
    assert latest(kube) == (2, ReleaseStatus.FAILED)
    assert helm.upgrade(KEY, CHART, {"a": 2}, {}, OPTIONS) == 3
    assert history(kube) == {1: "superseded", 2: "failed", 3: "deployed"}


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ("timed out waiting for the condition", HelmTimeout),
        ("conflict occurred while applying object team-a/cache /v1, Kind=ConfigMap", HelmConflict),
        ('admission webhook "deny.example" denied the request', HelmError),
    ],
)
def test_a_failed_apply_records_a_failed_revision(
    helm: FakeHelm, kube: FakeKube, message: str, error: type[HelmError]
) -> None:
    helm.upgrade(KEY, CHART, {"a": 1}, {}, OPTIONS)
    helm.fail_apply("cache", message)
    with pytest.raises(error, match="UPGRADE FAILED") as raised:
        helm.upgrade(KEY, CHART, {"a": 2}, {}, OPTIONS)
    assert type(raised.value) is error
    assert history(kube) == {1: "deployed", 2: "failed"}  # a failed upgrade does not supersede
    assert helm.upgrade(KEY, CHART, {"a": 2}, {}, OPTIONS) == 3  # the script applied once
    assert history(kube) == {1: "superseded", 2: "failed", 3: "deployed"}


def test_a_render_failure_writes_nothing(helm: FakeHelm, kube: FakeKube) -> None:
    helm.fail_render("cache", "a value is required", times=2)
    with pytest.raises(HelmRenderError, match="a value is required"):
        helm.upgrade(KEY, CHART, {}, {}, OPTIONS)
    with pytest.raises(HelmRenderError):
        helm.template("cache", "/charts/memcached", NS, [{}], hooks=True)
    assert records(kube) == []
    assert helm.upgrade(KEY, CHART, {}, {}, OPTIONS) == 1

    def fussy(release: str, namespace: str, values: Any) -> str:
        if "size" not in values:
            raise RenderFailed("size is required")
        return default_render(release, namespace, values)

    with pytest.raises(HelmRenderError, match=r"UPGRADE FAILED: .*size is required"):
        FakeHelm(helm.server, render=fussy).upgrade(KEY, CHART, {"other": 1}, {}, OPTIONS)


def test_rollback_on_failure_per_helm_major(server: FakeApiServer, kube: FakeKube) -> None:
    atomic = HelmOptions(rollback_on_failure=True)
    helm4 = FakeHelm(server, major=4)
    helm4.upgrade(KEY, CHART, {"a": 1}, {}, atomic)
    assert helm4.calls[0].argv == ["version", "--template", "{{.Version}}"]
    assert "--rollback-on-failure" in helm4.calls[1].argv and helm4.major_version() == 4
    helm4.fail_apply("cache", "timed out waiting for the condition")
    with pytest.raises(HelmTimeout, match="has been rolled back due to rollback-on-failure being set"):
        helm4.upgrade(KEY, CHART, {"a": 2}, {}, atomic)
    assert history(kube) == {1: "superseded", 2: "failed", 3: "deployed"}
    assert read_release(kube, KEY, 3)["config"] == {"a": 1}

    helm3 = FakeHelm(server, major=3)
    other = ReleaseKey(NS, "fresh")
    helm3.fail_apply("fresh", "boom")
    with pytest.raises(HelmError, match="uninstalled due to atomic being set: boom"):
        helm3.upgrade(other, CHART, {}, {}, atomic)
    assert "--atomic" in helm3.calls[-1].argv and set(history(kube)) == {1, 2, 3}  # nothing of "fresh" left
    with pytest.raises(HelmError, match="unknown flag: --rollback-on-failure"):
        helm3.run(["upgrade", "--install", "x", "/c", "--rollback-on-failure"])


def test_values_go_by_standard_input_never_a_file_or_the_argv(helm: FakeHelm) -> None:
    helm.upgrade(KEY, CHART, {"password": "hunter22"}, {}, OPTIONS)
    helm.render(KEY, CHART, {"password": "hunter22"}, OPTIONS, offline=False)
    for call in [c for c in helm.calls if c.command != "version"]:
        assert call.values == {"password": "hunter22"} and call.values_modes == ()
        assert not any("hunter22" in item for item in call.argv)
    assert call.env["HELM_CACHE_HOME"].startswith("/") and "hunter22" not in str(call.env)


def test_history_max_prunes_the_oldest_but_never_the_last_deployed(helm: FakeHelm, kube: FakeKube) -> None:
    kept = HelmOptions(history_max=3)
    for replicas in range(5):
        helm.upgrade(KEY, CHART, {"replicas": replicas}, {}, kept)
    assert history(kube) == {3: "superseded", 4: "superseded", 5: "deployed"}

    helm.fail_apply("cache", "boom", times=3)
    for _ in range(3):
        with pytest.raises(HelmError):
            helm.upgrade(KEY, CHART, {"replicas": 9}, {}, HelmOptions(history_max=2))
    assert history(kube) == {5: "deployed", 8: "failed"}


def test_labels_merge_onto_the_latest_revision_and_null_removes_one(helm: FakeHelm, kube: FakeKube) -> None:
    helm.upgrade(KEY, CHART, {}, {"a": "1", "b": "1"}, OPTIONS)
    helm.upgrade(KEY, CHART, {}, {"b": "2", "a": "null"}, OPTIONS)
    labels = kube.get(SECRETS, NS, record_name(KEY, 2))["metadata"]["labels"]
    assert "a" not in labels and labels["b"] == "2"
    with pytest.raises(HelmError, match="must be no more than 63 characters"):
        helm.upgrade(KEY, CHART, {}, {"long": "x" * 64}, OPTIONS)
    with pytest.raises(HelmError, match="system reserved label name"):
        helm.upgrade(KEY, CHART, {}, {"status": "mine"}, OPTIONS)
    assert set(history(kube)) == {1, 2}


def test_empty_values_reuse_the_previous_ones_unless_reset_as_helm_does(
    helm: FakeHelm, kube: FakeKube, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.json"
    empty.write_text("{}")
    helm.upgrade(KEY, CHART, {"replicas": 3}, {}, OPTIONS)
    helm.run(["upgrade", "--install", "cache", CHART.source, "--namespace", NS, "--values", str(empty)])
    assert read_release(kube, KEY, 2)["config"] == {"replicas": 3}, "helm's reuse rule without --reset-values"
    helm.upgrade(KEY, CHART, {}, {}, OPTIONS)
    assert not read_release(kube, KEY, 3).get("config"), "helmcr resets: the CR's values are the whole truth"


def test_reinstall_over_an_uninstalled_release_keeps_counting(helm: FakeHelm, kube: FakeKube) -> None:
    helm.upgrade(KEY, CHART, {}, {}, OPTIONS)
    helm.run(["uninstall", "cache", "--namespace", NS, "--keep-history"])
    assert latest(kube) == (1, ReleaseStatus.UNINSTALLED)
    assert helm.upgrade(KEY, CHART, {}, {}, OPTIONS) == 2
    assert history(kube) == {1: "superseded", 2: "deployed"}


def test_helm_storage_obeys_the_api_server(server: FakeApiServer, helm: FakeHelm) -> None:
    server.forbid("GET", "secrets", NS)
    with pytest.raises(HelmError, match='cannot list resource "secrets"'):
        helm.upgrade(KEY, CHART, {}, {}, OPTIONS)
    server.allow("GET", "secrets", NS)
    server.down = True
    with pytest.raises(HelmError, match="Kubernetes cluster unreachable"):
        helm.upgrade(KEY, CHART, {}, {}, OPTIONS)
    assert server.requests == []  # helm's own traffic is not FakeKube's


def test_what_fake_helm_does_not_know_fails_loudly(helm: FakeHelm) -> None:
    for argv in (["rollback", "cache", "1"], ["upgrade", "--install", "cache", "/c", "--set", "a=b"]):
        with pytest.raises(HelmError, match="fake helm does not know"):
            helm.run(argv)
    with pytest.raises(HelmError, match="invalid release name"):
        helm.upgrade(ReleaseKey(NS, "Not_A_Name"), CHART, {}, {}, OPTIONS)
    assert FakeHelm(helm.server, major=3).major_version() == 3


def test_the_stored_payload_is_helms_double_base64(helm: FakeHelm, kube: FakeKube) -> None:
    helm.upgrade(KEY, CHART, {}, {}, OPTIONS)
    inner = base64.b64decode(kube.get(SECRETS, NS, record_name(KEY, 1))["data"]["release"])
    assert base64.b64decode(inner)[:2] == b"\x1f\x8b"  # Secret data = base64 of helm's base64 of gzip


def test_pull_and_repo_update_behave_as_measured_with_helm_3_and_4(server: FakeApiServer, tmp_path: Path) -> None:
    """As helm 3.22 and 4.3 did against a real repository (reconcile/adapters/helm_pull.py): a pulled chart is an
    archive helm names <name>-<version>.tgz; ``pull <entry>/<chart>`` needs the index ``repo update`` cached; an
    index that cannot be fetched is an exit 0 for helm 3 and 1 for helm 4, the cause on standard output."""
    config = tmp_path / "repositories.yaml"
    config.write_text("repositories: [{name: private, url: 'https://charts.test'}]\n")
    env = {"HELM_REPOSITORY_CONFIG": str(config), "HELM_REPOSITORY_CACHE": str(tmp_path / "cache")}
    helm3, helm4 = FakeHelm(server, major=3), FakeHelm(server, major=4)
    for helm in (helm3, helm4):
        helm.sources.publish("memcached", "0.1.0", repo="https://charts.test")
    pull = ["pull", "private/memcached", "--version", "0.1.0", "--destination", str(tmp_path)]
    with pytest.raises(HelmError, match=r"no cached repo found. \(try 'helm repo update'\)"):
        helm3.run(pull, env=env)
    assert "Successfully got an update" in helm3.run(["repo", "update", "private"], env=env)
    helm3.run(pull, env=env)
    assert [p.name for p in tmp_path.glob("*.tgz")] == ["memcached-0.1.0.tgz"]
    for helm, code in ((helm3, 0), (helm4, 1)):
        helm.fail_repo_update("private", "failed to fetch https://charts.test/index.yaml : 401 Unauthorized")
        returncode, stdout, _ = helm.call(["repo", "update", "private"], env=env)
        assert returncode == code and "\tfailed to fetch https://charts.test/index.yaml : 401 Unauthorized" in stdout
    with pytest.raises(HelmError, match="no repositories found matching 'other'"):
        helm3.run(["repo", "update", "other"], env=env)
