"""Bad input gets one clear message and the right exit code, and never harms a healthy release."""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from devenv.controlplane import ControlPlane
from devenv.helmcli import Helm
from tests.integration.support import (
    GROUP,
    SHARED_CHARTS,
    VERSION,
    Helmcr,
    Kind,
    Resources,
    helm_status,
    install_crd,
    release_records,
)
from tests.integration.test_sync import MEMCACHED, memcached_watch

REDIS = Kind("Redis", "redises")
LEGACY = Kind("LegacyMemcached", "legacymemcacheds")


@pytest.fixture(scope="session")
def kinds(kube: client.ApiClient) -> None:
    for kind in (MEMCACHED, REDIS, LEGACY):
        install_crd(kube, kind)


@pytest.fixture
def helmcr(tmp_path: Path, helm: Helm, control_plane: ControlPlane, kinds: None) -> Helmcr:
    return Helmcr(tmp_path, helm, control_plane.kubeconfig)


def watch(kind: Kind, chart: str, **extra: object) -> dict[str, object]:
    return {"group": GROUP, "version": VERSION, "kind": kind.kind, "chart": chart, **extra}


def test_a_spec_failing_the_charts_schema_fails_that_cr_only(
    helmcr: Helmcr, kube: client.ApiClient, namespace: str, helm: Helm
) -> None:
    helmcr.configure([watch(REDIS, str(SHARED_CHARTS / "redis"), disableHooks=True)])
    redises = Resources(kube, REDIS, namespace)
    redises.create(
        "wrong", {"usePassword": "yes please", "password": "hunter2hunter2", "cluster": {"slaveCount": "many"}}
    )
    redises.create("right", {"usePassword": True, "password": "hunter2hunter2", "cluster": {"enabled": False}})

    run = helmcr.sync("-n", namespace, "-o", "json")
    assert run.exit_code == 1
    assert run.outcome("right")["result"] == "succeeded"
    assert run.outcome("wrong")["result"] == "failed"
    ready = redises.ready("wrong")
    assert (ready["status"], ready["reason"]) == ("False", "InstallFailed")
    assert "schema" in ready["message"] and "usePassword" in ready["message"]
    assert "hunter2hunter2" not in run.stdout + run.stderr + str(redises.get("wrong")["status"])
    assert helm_status(helm, namespace, "right")["info"]["status"] == "deployed"

    again = helmcr.sync("-n", namespace, "-o", "json")
    assert again.outcome("right")["action"] == "skip", "a random password in the chart must not cause upgrades"


def test_a_chart_the_server_rejects_reports_the_servers_reason_and_harms_nothing_else(
    helmcr: Helmcr, kube: client.ApiClient, namespace: str, helm: Helm
) -> None:
    helmcr.configure([memcached_watch(), watch(LEGACY, str(SHARED_CHARTS / "memcached-2.2.0"), disableHooks=True)])
    Resources(kube, MEMCACHED, namespace).create("healthy", {"replicaCount": 1})
    assert helmcr.sync("-n", namespace).exit_code == 0
    healthy_records = release_records(kube, namespace)

    legacy = Resources(kube, LEGACY, namespace)
    legacy.create("old", {"replicaCount": 1})
    run = helmcr.sync("-n", namespace, "-o", "json")
    assert run.exit_code == 1
    assert run.outcome("old")["result"] == "failed"
    message = legacy.ready("old")["message"]
    assert "apps/v1beta1" in message and "StatefulSet" in message
    assert run.outcome("healthy")["action"] == "skip"
    waiting = helmcr.sync("-n", namespace, "-o", "json")
    assert (waiting.outcome("old")["state"], waiting.helm_processes) == ("backoff", 0)
    assert legacy.get("old")["status"]["failures"] == 1 and legacy.get("old")["status"]["nextAttemptTime"]
    legacy.annotate("old", {"helmcr.io/retry": "please"})
    retry = helmcr.sync("-n", namespace, "-o", "json")
    assert (retry.outcome("old")["action"], retry.outcome("old")["result"]) == ("install", "failed")
    assert "apps/v1beta1" in legacy.ready("old")["message"], "a retry must report the server's reason again"
    assert legacy.get("old")["status"]["failures"] == 2
    assert {k: v for k, v in release_records(kube, namespace).items() if ".healthy." in k} == healthy_records
    assert helm_status(helm, namespace, "healthy")["info"]["status"] == "deployed"


def test_an_unreachable_api_server_is_a_clear_error_with_exit_4(helmcr: Helmcr, tmp_path: Path) -> None:
    helmcr.configure([memcached_watch()])
    kubeconfig = tmp_path / "unreachable.kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "c",
                "clusters": [
                    {"name": "c", "cluster": {"server": "https://127.0.0.1:1", "insecure-skip-tls-verify": True}}
                ],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
            }
        )
    )
    run = helmcr.sync(kubeconfig=kubeconfig)
    assert run.exit_code == 4
    assert "cannot reach the API server at https://127.0.0.1:1" in run.stdout + run.stderr
    assert "Traceback" not in run.stderr and run.helm_processes == 0


def test_a_missing_chart_fails_its_kind_only(helmcr: Helmcr, kube: client.ApiClient, namespace: str) -> None:
    helmcr.configure([memcached_watch(), watch(REDIS, "/nowhere/redis")])
    Resources(kube, MEMCACHED, namespace).create("ok", {})
    Resources(kube, REDIS, namespace).create("lost", {})
    run = helmcr.sync("-n", namespace, "-o", "json")
    assert run.exit_code == 1
    assert run.outcome("ok")["result"] == "succeeded"
    assert any("chart '/nowhere/redis' not found" in e for e in run.report["errors"])


def test_a_malformed_config_fails_before_any_cluster_call(helmcr: Helmcr) -> None:
    helmcr.config.write_text("watches:\n  - group: test.helmcr.io\n    kind: Memcached\n    chart: [oops\n")
    run = helmcr.sync()
    assert run.exit_code == 3
    assert str(helmcr.config) in run.stderr and "not valid YAML" in run.stderr
    assert "Traceback" not in run.stderr


def test_forbidden_rbac_is_reported_and_changes_nothing(
    helmcr: Helmcr, kube: client.ApiClient, namespace: str, control_plane: ControlPlane, tmp_path: Path
) -> None:
    helmcr.configure([memcached_watch()])
    Resources(kube, MEMCACHED, namespace).create("guarded", {})
    client.CoreV1Api(kube).create_namespaced_service_account(
        namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="nobody"))
    )
    kubeconfig = control_plane.service_account_kubeconfig(namespace, "nobody", tmp_path / "nobody.kubeconfig")
    run = helmcr.sync("-n", namespace, kubeconfig=kubeconfig)
    assert run.exit_code == 4
    assert "forbidden" in run.stderr + run.stdout and "memcacheds" in run.stderr + run.stdout
    assert run.helm_processes == 0
    assert release_records(kube, namespace) == {}


@pytest.fixture
def chart_repository(tmp_path: Path, helm: Helm) -> Iterator[str]:
    """A real chart repository (index.yaml + packaged chart) served over HTTP on loopback."""
    served = tmp_path / "repo"
    served.mkdir()
    chart = tmp_path / "memcached"
    shutil.copytree(SHARED_CHARTS / "memcached", chart)
    helm.run("package", str(chart), "--destination", str(served))
    helm.run("repo", "index", str(served))
    handler = functools.partial(_QuietHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return


def test_a_chart_from_a_repository_is_installed_and_then_left_alone(
    helmcr: Helmcr, kube: client.ApiClient, namespace: str, helm: Helm, chart_repository: str
) -> None:
    helmcr.configure(
        [
            {
                "group": GROUP,
                "version": VERSION,
                "kind": MEMCACHED.kind,
                "chart": "memcached",
                "repo": chart_repository,
                "chartVersion": "3.2.5",
                "disableHooks": True,
            }
        ]
    )
    Resources(kube, MEMCACHED, namespace).create("remote", {"replicaCount": 1})
    run = helmcr.sync("-n", namespace, "-o", "json")
    assert run.exit_code == 0, run.stderr
    (listed,) = json.loads(helm.run("list", "-n", namespace, "-o", "json").stdout)
    assert (listed["name"], listed["chart"], listed["status"]) == ("remote", "memcached-3.2.5", "deployed")
    idle = helmcr.sync("-n", namespace, "-o", "json")
    assert (idle.outcome("remote")["action"], idle.helm_processes) == ("skip", 0)


def test_a_moving_repository_version_is_refused(helmcr: Helmcr, namespace: str) -> None:
    helmcr.configure(
        [
            {
                "group": GROUP,
                "version": VERSION,
                "kind": MEMCACHED.kind,
                "chart": "memcached",
                "repo": "http://127.0.0.1:9",
                "chartVersion": "^3",
            }
        ]
    )
    run = helmcr.sync("-n", namespace)
    assert run.exit_code == 1 and "needs an exact chartVersion" in run.stdout


def test_a_release_whose_install_failed_is_retried_and_reported(
    helmcr: Helmcr, kube: client.ApiClient, namespace: str, helm: Helm
) -> None:
    helmcr.configure([memcached_watch(disableHooks=False, retryBackoff="1s")])
    caches = Resources(kube, MEMCACHED, namespace)
    caches.create("hooked", {"replicaCount": 1})
    first = helmcr.sync("-n", namespace, "-o", "json")
    assert (first.outcome("hooked")["action"], first.outcome("hooked")["result"]) == ("install", "failed")
    assert "policy/v1beta1" in caches.ready("hooked")["message"]
    time.sleep(1.1)  # the backoff after one failure
    second = helmcr.sync("-n", namespace, "-o", "json")
    assert (second.outcome("hooked")["state"], second.outcome("hooked")["result"]) == ("failed", "failed")

    helmcr.configure([memcached_watch(disableHooks=True)])
    fixed = helmcr.sync("-n", namespace, "-o", "json")
    assert (fixed.outcome("hooked")["action"], fixed.outcome("hooked")["result"]) == ("upgrade", "succeeded")
    assert caches.ready("hooked")["reason"] == "UpgradeSucceeded"
    assert helm_status(helm, namespace, "hooked")["info"]["status"] == "deployed"
