"""helmcr sync --once against the real control plane and the real helm 3 and helm 4.

Each test works in its own namespace and scopes helmcr to it with ``--namespace``, so tests never see each other.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from devenv import binaries
from devenv.controlplane import ControlPlane
from devenv.helmcli import Helm
from tests.integration.support import (
    GROUP,
    REPO,
    SHARED_CHARTS,
    VERSION,
    Helmcr,
    Kind,
    Resources,
    helm_status,
    install_crd,
    names,
    release_records,
    releases,
    statefulset_replicas,
)

MEMCACHED = Kind("Memcached", "memcacheds")


def memcached_watch(**overrides: Any) -> dict[str, Any]:
    """The shared memcached 3.2.5 chart; its PDB hook uses policy/v1beta1, which Kubernetes ≥1.25 rejects."""
    return {
        "group": GROUP,
        "version": VERSION,
        "kind": MEMCACHED.kind,
        "chart": str(SHARED_CHARTS / "memcached"),
        "disableHooks": True,
        **overrides,
    }


@pytest.fixture(scope="session")
def memcached_kind(kube: client.ApiClient) -> Kind:
    install_crd(kube, MEMCACHED)
    return MEMCACHED


@pytest.fixture
def helmcr(tmp_path: Path, helm: Helm, control_plane: ControlPlane) -> Helmcr:
    runner = Helmcr(tmp_path, helm, control_plane.kubeconfig, audit_log=control_plane.audit_log)
    runner.configure([memcached_watch()])
    return runner


@pytest.fixture
def caches(kube: client.ApiClient, memcached_kind: Kind, namespace: str) -> Resources:
    return Resources(kube, memcached_kind, namespace)


def test_create_edit_delete_converge_and_a_no_op_run_costs_two_requests(
    helmcr: Helmcr, caches: Resources, kube: client.ApiClient, namespace: str, helm: Helm
) -> None:
    caches.create("alpha", {"replicaCount": 2})
    caches.create("beta", {"replicaCount": 1})

    first = helmcr.sync("-n", namespace, "-o", "json")
    assert first.exit_code == 0, first.stderr
    assert first.helm_processes == 5  # helm version once, then per install: the object check's dry run, the install
    assert {o["name"]: (o["action"], o["result"]) for o in first.report["outcomes"]} == {
        "alpha": ("install", "succeeded"),
        "beta": ("install", "succeeded"),
    }
    assert helm_status(helm, namespace, "alpha")["info"]["status"] == "deployed"
    assert statefulset_replicas(kube, namespace, "alpha-memcached") == 2
    ready = caches.ready("alpha")
    assert (ready["status"], ready["reason"]) == ("True", "InstallSucceeded")
    waited = subprocess.run(
        [
            str(binaries.kubectl_binary()),
            "--kubeconfig",
            str(helmcr.kubeconfig),
            "wait",
            "-n",
            namespace,
            "--for=condition=Ready",
            f"memcacheds.{GROUP}/alpha",
            "--timeout=10s",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert waited.returncode == 0, waited.stderr
    status = caches.get("alpha")["status"]
    assert (status["revision"], status["chart"], status["chartVersion"], status["observedGeneration"]) == (
        1,
        "memcached",
        "3.2.5",
        1,
    )
    record = client.CoreV1Api(kube).read_namespaced_secret("sh.helm.release.v1.alpha.v1", namespace).metadata
    assert record is not None and record.labels is not None
    assert status["digest"] == record.labels["helmcr.io/digest"]
    assert record.labels["helmcr.io/owner-uid"] == caches.get("alpha")["metadata"]["uid"]

    crs_before = {n: caches.get(n)["metadata"]["resourceVersion"] for n in ("alpha", "beta")}
    records_before = release_records(kube, namespace)
    events_before = len(client.CoreV1Api(kube).list_namespaced_event(namespace).items)
    idle = helmcr.sync("-n", namespace, "-o", "json")
    assert idle.exit_code == 0, idle.stderr
    assert idle.helm_processes == 0
    assert [(e["verb"], e["objectRef"]["resource"]) for e in idle.requests] == [
        ("list", "memcacheds"),
        ("list", "secrets"),
    ], "the API server saw exactly two LISTs and nothing else"
    assert idle.writes == [] and idle.report["stats"]["apiRequests"] == 2
    assert {o["action"] for o in idle.report["outcomes"]} == {"skip"}
    assert {n: caches.get(n)["metadata"]["resourceVersion"] for n in ("alpha", "beta")} == crs_before
    assert release_records(kube, namespace) == records_before
    assert len(client.CoreV1Api(kube).list_namespaced_event(namespace).items) == events_before

    caches.patch_spec("alpha", {"replicaCount": 3})
    edited = helmcr.sync("-n", namespace, "-o", "json")
    assert edited.exit_code == 0, edited.stderr
    assert edited.helm_processes == 3  # helm version, the check's dry run and the upgrade
    assert (edited.outcome("alpha")["action"], edited.outcome("alpha")["revision"]) == ("upgrade", 2)
    assert edited.outcome("beta")["action"] == "skip"
    assert statefulset_replicas(kube, namespace, "alpha-memcached") == 3
    assert helm_status(helm, namespace, "beta")["version"] == 1
    assert caches.get("alpha")["status"]["observedGeneration"] == 2

    caches.delete("alpha")
    deleted = helmcr.sync("-n", namespace, "-o", "json")
    assert deleted.exit_code == 0, deleted.stderr
    assert deleted.outcome("alpha")["action"] == "uninstall"
    assert "alpha-memcached" not in names(client.AppsV1Api(kube).list_namespaced_stateful_set(namespace).items)
    assert helm.run("status", "alpha", "-n", namespace, check=False).returncode != 0
    assert helm_status(helm, namespace, "beta")["version"] == 1


def test_many_crs_with_bounded_concurrency(helmcr: Helmcr, caches: Resources, namespace: str, helm: Helm) -> None:
    for index in range(6):
        caches.create(f"cache-{index}", {"replicaCount": 1})
    run = helmcr.sync("-n", namespace, "--concurrency", "3", "-o", "json")
    assert run.exit_code == 0, run.stderr
    # helm version, then a dry run and an install each
    assert run.report["summary"]["installed"] == 6 and run.helm_processes == 13
    listed = {r["name"] for r in json.loads(helm.run("list", "-n", namespace, "-o", "json").stdout)}
    assert listed == {f"cache-{index}" for index in range(6)}


def test_a_release_helmcr_did_not_create_is_blocked_and_untouched(
    helmcr: Helmcr, caches: Resources, namespace: str, helm: Helm, kube: client.ApiClient, tmp_path: Path
) -> None:
    values = tmp_path / "values.yaml"
    values.write_text("replicaCount: 1\n")
    helm.run("install", "taken", str(SHARED_CHARTS / "memcached"), "-n", namespace, "--no-hooks", "-f", str(values))
    caches.create("taken", {"replicaCount": 2})
    caches.create("free", {"replicaCount": 1})
    records_before = release_records(kube, namespace)

    run = helmcr.sync("-n", namespace, "-o", "json")
    assert run.exit_code == 1
    assert (run.outcome("taken")["action"], run.outcome("free")["result"]) == ("blocked", "succeeded")
    assert "was not created by helmcr" in run.outcome("taken")["reason"]
    assert helm_status(helm, namespace, "taken")["version"] == 1
    assert {k: v for k, v in release_records(kube, namespace).items() if ".taken." in k} == {
        k: v for k, v in records_before.items() if ".taken." in k
    }
    ready = caches.ready("taken")
    assert (ready["status"], ready["reason"]) == ("False", "Blocked")
    assert "adopt: true" in ready["message"]


def test_adopting_a_release_makes_no_revision_when_the_cr_changes_nothing(
    helmcr: Helmcr, caches: Resources, namespace: str, helm: Helm, tmp_path: Path
) -> None:
    helmcr.configure([memcached_watch(adopt=True)])
    values = tmp_path / "values.yaml"
    values.write_text("replicaCount: 1\n")
    for name in ("same", "edited"):
        helm.run("install", name, str(SHARED_CHARTS / "memcached"), "-n", namespace, "--no-hooks", "-f", str(values))
    caches.create("same", {"replicaCount": 1})
    caches.create("edited", {"replicaCount": 2})

    run = helmcr.sync("-n", namespace, "-o", "json")
    assert run.exit_code == 0, run.stdout + run.stderr
    assert [run.outcome(name)["action"] for name in ("same", "edited")] == ["adopt", "adopt"]
    assert (helm_status(helm, namespace, "same")["version"], helm_status(helm, namespace, "edited")["version"]) == (
        1,
        2,
    ), "only the release whose CR asks for a change gets a new revision"
    assert "no new revision" in caches.ready("same")["message"]
    assert caches.get("same")["status"]["revision"] == 1

    again = helmcr.sync("-n", namespace, "-o", "json")
    assert again.exit_code == 0 and again.helm_processes == 0
    assert {again.outcome(name)["state"] for name in ("same", "edited")} == {"in-sync"}, "both are helmcr's now"


def test_a_release_installed_without_its_hooks_is_adopted_by_an_upgrade_that_runs_them(
    helmcr: Helmcr, caches: Resources, namespace: str, helm: Helm, kube: client.ApiClient
) -> None:
    chart = REPO / "tests" / "fixtures" / "charts" / "upgradehook"
    helmcr.configure([memcached_watch(chart=str(chart), disableHooks=False, adopt=True)])
    helm.run("install", "hooked", str(chart), "-n", namespace, "--set", "message=hello")
    helm.run("install", "unhooked", str(chart), "-n", namespace, "--set", "message=hello", "--no-hooks")
    for name in ("hooked", "unhooked"):
        caches.create(name, {"message": "hello"})

    run = helmcr.sync("-n", namespace, "-o", "json")
    assert run.exit_code == 0, run.stdout + run.stderr
    assert releases(helm, namespace) == {"hooked": (1, "deployed"), "unhooked": (2, "deployed")}
    migrated = client.CoreV1Api(kube).read_namespaced_config_map("unhooked-migrated", namespace)
    assert migrated.data == {"migrated": "hello"}, "the upgrade ran the hook the install skipped"


def test_a_cr_whose_spec_is_not_an_object_is_blocked_and_others_converge(
    helmcr: Helmcr, caches: Resources, namespace: str
) -> None:
    caches.create("listy", [1, 2, 3])
    caches.create("fine", {"replicaCount": 1})
    run = helmcr.sync("-n", namespace, "-o", "json")
    assert run.exit_code == 1
    assert run.outcome("fine")["result"] == "succeeded"
    assert run.outcome("listy")["result"] == "blocked"
    assert "spec must be an object" in caches.ready("listy")["message"]
    again = helmcr.sync("-n", namespace, "-o", "json")
    assert again.helm_processes == 0


def test_selector_limits_the_run_and_deselected_releases_are_kept(
    helmcr: Helmcr, caches: Resources, namespace: str, helm: Helm
) -> None:
    caches.create("blue", {"replicaCount": 1}, labels={"team": "blue"})
    caches.create("green", {"replicaCount": 1}, labels={"team": "green"})
    assert helmcr.sync("-n", namespace).exit_code == 0
    only_blue = helmcr.sync("-n", namespace, "-l", "team=blue", "-o", "json")
    assert only_blue.exit_code == 0, only_blue.stderr
    assert only_blue.outcome("green")["state"] == "deselected"
    assert helm_status(helm, namespace, "green")["info"]["status"] == "deployed"
