"""The CI preview (sync --dry-run / diff / plan / apply) against the real control plane and real charts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from kubernetes import client
from referencing import Registry, Resource

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
    cache_watch,
    install_crd,
    release_records,
    releases,
)

SCHEMAS = REPO / "docs" / "schemas"
REDIS = Kind("Redis", "redises")
PASSWORD = "s3cr3t-Hunter-2048"


@pytest.fixture
def audited(tmp_path: Path, helm: Helm, control_plane: ControlPlane, cache_kind: Kind) -> Helmcr:
    runner = Helmcr(tmp_path, helm, control_plane.kubeconfig, audit_log=control_plane.audit_log)
    runner.configure([cache_watch()])
    return runner


def validate_report(document: dict[str, Any]) -> None:
    resources = [
        (f"https://helmcr.io/schemas/{name}", Resource.from_contents(json.loads((SCHEMAS / name).read_text())))
        for name in ("report.schema.json", "diff.schema.json")
    ]
    registry: Registry[Any] = Registry().with_resources(resources)
    schema = json.loads((SCHEMAS / "report.schema.json").read_text())
    jsonschema.Draft202012Validator(schema, registry=registry).validate(document)


def cluster_state(kube: client.ApiClient, caches: Resources, namespace: str) -> dict[str, Any]:
    objects: Any = client.CustomObjectsApi(kube).list_namespaced_custom_object(GROUP, VERSION, namespace, "caches")
    return {
        "crs": {o["metadata"]["name"]: o["metadata"]["resourceVersion"] for o in objects["items"]},
        "records": release_records(kube, namespace),
        "events": len(client.CoreV1Api(kube).list_namespaced_event(namespace).items),
    }


def test_a_preview_shows_exactly_the_change_and_changes_nothing(
    audited: Helmcr, caches: Resources, namespace: str, kube: client.ApiClient, helm: Helm
) -> None:
    caches.create("steady", {"replicaCount": 1})
    caches.create("edited", {"replicaCount": 1})
    assert audited.sync("-n", namespace).exit_code == 0
    caches.patch_spec("edited", {"replicaCount": 3})
    caches.create("fresh", {"replicaCount": 1})
    before = cluster_state(kube, caches, namespace)

    run = audited.run(("diff",), "-n", namespace, "-o", "json", "--detailed-exitcode")
    assert run.exit_code == 2, run.stderr
    assert run.writes == [], "a preview makes no write of any kind (no status, no event, no lease)"
    assert cluster_state(kube, caches, namespace) == before
    assert releases(helm, namespace) == {"steady": (1, "deployed"), "edited": (1, "deployed")}
    validate_report(run.report)

    diffs = {d["release"]["name"]: d for d in run.report["diff"]["releases"]}
    assert set(diffs) == {"edited", "fresh"}, "only releases that would change are rendered"
    edited = diffs["edited"]
    assert [(v["path"], v["change"], v["old"], v["new"]) for v in edited["values"]] == [
        ("replicaCount", "changed", 1, 3)
    ]
    (statefulset,) = [o for o in edited["objects"] if o["change"] == "changed"]
    assert statefulset["kind"] == "StatefulSet"
    assert "-  replicas: 1" in statefulset["diff"] and "+  replicas: 3" in statefulset["diff"]
    fresh = diffs["fresh"]
    assert fresh["action"] == "install" and {o["kind"] for o in fresh["objects"]} == {"StatefulSet", "Service"}
    assert all(o["change"] == "added" for o in fresh["objects"])
    assert run.helm_processes == 3  # helm version (its flags differ by major), a server dry run per release

    text = audited.run(("sync", "--once"), "--dry-run", "-n", namespace)
    assert text.exit_code == 0 and "+  replicas: 3" in text.stdout and "helmcr plan (dry run" in text.stdout


def test_exit_codes_nothing_to_do_and_errors(audited: Helmcr, caches: Resources, namespace: str) -> None:
    caches.create("calm", {"replicaCount": 1})
    assert audited.sync("-n", namespace).exit_code == 0
    assert audited.run(("diff",), "-n", namespace, "--detailed-exitcode").exit_code == 0
    caches.create("broken", [1, 2])
    broken = audited.run(("diff",), "-n", namespace, "--detailed-exitcode")
    assert broken.exit_code == 1 and "spec must be an object" in broken.stdout


@pytest.fixture
def redis_helmcr(tmp_path: Path, helm: Helm, control_plane: ControlPlane, kube: client.ApiClient) -> Helmcr:
    install_crd(kube, REDIS)
    runner = Helmcr(tmp_path, helm, control_plane.kubeconfig)
    runner.configure([{"group": GROUP, "version": VERSION, "kind": "Redis", "chart": str(SHARED_CHARTS / "redis"),
                       "disableHooks": True}])  # fmt: skip
    return runner


def test_a_password_never_shows_unless_asked(redis_helmcr: Helmcr, kube: client.ApiClient, namespace: str) -> None:
    redises = Resources(kube, REDIS, namespace)
    redises.create("vault", {"usePassword": True, "password": "first-" + PASSWORD, "cluster": {"enabled": False}})
    assert redis_helmcr.sync("-n", namespace).exit_code == 0
    redises.patch_spec("vault", {"password": PASSWORD})
    outputs = [redis_helmcr.run(("diff",), "-n", namespace, "-o", fmt) for fmt in ("text", "json", "markdown")]
    for output in outputs:
        assert output.exit_code == 0, output.stderr
        assert PASSWORD not in output.stdout + output.stderr
        assert "first-" + PASSWORD not in output.stdout + output.stderr
    report = outputs[1].report
    (release,) = report["diff"]["releases"]
    assert [(v["path"], v["redacted"]) for v in release["values"]] == [("password", True)]
    secret = next(o for o in release["objects"] if o["kind"] == "Secret")
    assert "redis-password" in secret["diff"] and "changed" in secret["diff"]
    assert "<details>" in outputs[2].stdout
    shown = redis_helmcr.run(("diff",), "-n", namespace, "--show-secrets")
    assert PASSWORD in shown.stdout


def test_pull_request_files_replace_the_cluster_crs(
    audited: Helmcr, caches: Resources, namespace: str, tmp_path: Path
) -> None:
    caches.create("kept", {"replicaCount": 1})
    caches.create("dropped", {"replicaCount": 1})
    assert audited.sync("-n", namespace).exit_code == 0
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    documents = [
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "Cache",
            "metadata": {"name": "kept"},
            "spec": {"replicaCount": 2},
        },
        {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Cache", "metadata": {"name": "added"}, "spec": {}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "unrelated"}},
    ]
    (checkout / "caches.yaml").write_text(yaml.safe_dump_all(documents))
    run = audited.run(("diff",), "-n", namespace, "--from-file", str(checkout), "-o", "json")
    assert run.exit_code == 0, run.stderr
    actions = {o["release"]["name"]: o["action"] for o in run.report["outcomes"]}
    assert actions == {"kept": "upgrade", "added": "install", "dropped": "uninstall"}
    dropped = next(d for d in run.report["diff"]["releases"] if d["release"]["name"] == "dropped")
    assert {o["change"] for o in dropped["objects"]} == {"removed"}


def test_offline_preview_needs_no_cluster(audited: Helmcr, tmp_path: Path) -> None:
    def write(folder: str, replicas: int) -> Path:
        path = tmp_path / folder
        path.mkdir()
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Cache", "metadata": {"name": "web", "namespace": "prod"},
                "spec": {"replicaCount": replicas}}  # fmt: skip
        (path / "web.yaml").write_text(yaml.safe_dump(body))
        return path

    base, head = write("base", 1), write("head", 4)
    nowhere = tmp_path / "nowhere.kubeconfig"
    nowhere.write_text("not: a kubeconfig\n")
    run = audited.run(
        ("diff",), "--offline", "--base", str(base), "--from-file", str(head), "-o", "json", kubeconfig=nowhere
    )
    assert run.exit_code == 0, run.stderr
    (release,) = run.report["diff"]["releases"]
    assert release["values"][0]["path"] == "replicaCount" and release["values"][0]["new"] == 4
    assert any("+  replicas: 4" in o["diff"] for o in release["objects"])


def test_a_saved_plan_applies_only_what_was_reviewed(
    audited: Helmcr, caches: Resources, namespace: str, helm: Helm, tmp_path: Path
) -> None:
    caches.create("reviewed", {"replicaCount": 1})
    caches.create("sneaky", {"replicaCount": 1})
    assert audited.sync("-n", namespace).exit_code == 0
    caches.patch_spec("reviewed", {"replicaCount": 2})
    caches.patch_spec("sneaky", {"replicaCount": 2})
    saved = tmp_path / "plan.json"
    planned = audited.run(("plan",), "-n", namespace, "--out", str(saved))
    assert planned.exit_code == 0 and json.loads(saved.read_text())["kind"] == "SavedPlan"
    assert "replicaCount" not in saved.read_text(), "a saved plan holds digests, never values"

    caches.patch_spec("sneaky", {"replicaCount": 5})  # changed after review
    caches.create("unplanned", {"replicaCount": 1})
    applied = audited.run(("apply", str(saved)), "-o", "json")
    assert applied.exit_code == 1
    results = {o["release"]["name"]: (o["result"], o["message"]) for o in applied.report["outcomes"]}
    assert results["reviewed"][0] == "succeeded"
    assert results["sneaky"][0] == "not-started" and "changed since the plan was made" in results["sneaky"][1]
    assert "generation" in results["sneaky"][1] and "desiredDigest" in results["sneaky"][1]
    assert results["unplanned"][0] == "not-started" and "not in the reviewed plan" in results["unplanned"][1]
    assert releases(helm, namespace) == {"reviewed": (2, "deployed"), "sneaky": (1, "deployed")}
