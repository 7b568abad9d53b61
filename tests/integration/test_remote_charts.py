"""Charts from a real OCI registry and a real chart repository, both behind TLS (a private CA) and a password, with
the real helm 3 and helm 4: one pull per run and version, credentials only through helm's own config files (as a
pod mounts them from Secrets), and a refused pull failing just the releases that need it, none of them touched.

The counts are helm processes (the wrapper's log) and the servers' own logs, never timings.
"""

from __future__ import annotations

import json
import ssl
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from devenv.controlplane import http_status
from devenv.helmcli import Helm
from devenv.registry import ChartRepository, OciRegistry, RegistryError, local_tls
from tests.integration.support import (
    EXAMPLE_CHART,
    Helmcr,
    Kind,
    Resources,
    cache_watch,
    install_crd,
    release_records,
    served,
)

NAMES = ("alpha", "beta", "gamma")
SIDECAR = Kind("Sidecar", "sidecars")


@pytest.fixture(scope="module")
def sidecar_kind(kube: client.ApiClient) -> Kind:
    """A second kind on a local chart, to show that one kind's refused pull holds up no other kind."""
    install_crd(kube, SIDECAR)
    return SIDECAR


def package(helm: Helm, version: str, into: Path) -> Path:
    """The project's example chart packaged by helm at ``version``."""
    helm.run("package", str(EXAMPLE_CHART), "--version", version, "--destination", str(into))
    return into / f"memcached-{version}.tgz"


def read_only(path: Path) -> Path:
    """As a Secret's files are mounted: neither the file nor its directory can be written."""
    path.chmod(0o444)
    path.parent.chmod(0o555)
    return path


def helm_commands(helmcr: Helmcr, since: int) -> list[str]:
    """The subcommand of every helm the runs started after the ``since``-th."""
    return helmcr.calls.read_text().splitlines()[since:] if helmcr.calls.exists() else []


def sync(helmcr: Helmcr, namespace: str, env: dict[str, str]) -> tuple[Any, list[str]]:
    before = len(helm_commands(helmcr, 0))
    run = helmcr.sync("-n", namespace, "-o", "json", env=env)
    return run, helm_commands(helmcr, before)


def assert_ready(caches: Resources, reason: str, version: str, revision: int) -> None:
    for name in NAMES:
        ready = caches.ready(name)
        assert (ready["status"], ready["reason"]) == ("True", reason), ready
        status = caches.get(name)["status"]
        assert (status["chart"], status["chartVersion"], status["revision"]) == ("memcached", version, revision)


def assert_deployed(helm: Helm, namespace: str, version: str, revision: int) -> None:
    """helm's own view: every release of ``NAMES`` deployed at ``revision``, from the chart at ``version``."""
    listed = json.loads(helm.run("list", "-n", namespace, "-o", "json").stdout)
    assert {r["name"]: (int(r["revision"]), r["status"], r["chart"]) for r in listed if r["name"] in NAMES} == {
        name: (revision, "deployed", f"memcached-{version}") for name in NAMES
    }


def test_an_oci_chart_is_pulled_once_per_run_and_version(
    helmcr: Helmcr, helm: Helm, caches: Resources, namespace: str, oci_registry: OciRegistry, tmp_path: Path
) -> None:
    reference = oci_registry.push(helm, package(helm, "0.1.0", tmp_path), namespace)
    oci_registry.push(helm, package(helm, "0.2.0", tmp_path), namespace)
    credentials = read_only(oci_registry.write_docker_config(tmp_path / "registry-secret" / "config.json"))
    env = {"SSL_CERT_FILE": str(oci_registry.ca_cert), "HELM_REGISTRY_CONFIG": str(credentials)}
    helmcr.configure([cache_watch(chart=reference, chartVersion="0.1.0")])
    for name in NAMES:
        caches.create(name, {"replicaCount": 1})
    manifest = f"GET /v2/{namespace}/memcached/manifests"

    installed, commands = sync(helmcr, namespace, env)
    assert installed.exit_code == 0, installed.stderr
    assert installed.report["summary"]["installed"] == 3
    # the pull, helm version, then a dry run and an install each
    assert commands.count("pull") == 1 and installed.helm_processes == 8
    assert served(oci_registry.log_path, f"{manifest}/0.1.0") == 1, "the registry served the chart once"
    assert_deployed(helm, namespace, "0.1.0", 1)
    assert_ready(caches, "InstallSucceeded", "0.1.0", 1)

    idle, commands = sync(helmcr, namespace, env)
    assert (idle.exit_code, idle.helm_processes, commands) == (0, 0, [])

    helmcr.configure([cache_watch(chart=reference, chartVersion="0.2.0")])
    upgraded, commands = sync(helmcr, namespace, env)
    assert upgraded.exit_code == 0, upgraded.stderr
    assert upgraded.report["summary"]["upgraded"] == 3
    assert commands.count("pull") == 1 and upgraded.helm_processes == 8
    assert served(oci_registry.log_path, f"{manifest}/0.2.0") == 1
    assert_deployed(helm, namespace, "0.2.0", 2)
    assert_ready(caches, "UpgradeSucceeded", "0.2.0", 2)


def test_refused_registry_credentials_fail_each_release_and_touch_none(
    helmcr: Helmcr,
    helm: Helm,
    caches: Resources,
    namespace: str,
    oci_registry: OciRegistry,
    kube: client.ApiClient,
    sidecar_kind: Kind,
    tmp_path: Path,
) -> None:
    reference = oci_registry.push(helm, package(helm, "0.1.0", tmp_path), namespace)
    oci_registry.push(helm, package(helm, "0.2.0", tmp_path), namespace)
    good = oci_registry.write_docker_config(tmp_path / "good" / "config.json")
    wrong_password = "not-the-registry-password"
    wrong = oci_registry.write_docker_config(tmp_path / "wrong" / "config.json", password=wrong_password)
    trust = {"SSL_CERT_FILE": str(oci_registry.ca_cert)}
    helmcr.configure([cache_watch(chart=reference, chartVersion="0.1.0")])
    for name in NAMES:
        caches.create(name, {"replicaCount": 1})
    assert sync(helmcr, namespace, {**trust, "HELM_REGISTRY_CONFIG": str(good)})[0].exit_code == 0
    Resources(kube, sidecar_kind, namespace).create("side", {"replicaCount": 1})
    sidecars = cache_watch(kind=SIDECAR.kind, plural=SIDECAR.plural)
    records = release_records(kube, namespace)

    helmcr.configure([cache_watch(chart=reference, chartVersion="0.2.0"), sidecars])
    refused, commands = sync(helmcr, namespace, {**trust, "HELM_REGISTRY_CONFIG": str(wrong)})

    assert refused.exit_code == 1, "failed releases: not converged"
    failed = {o["name"]: o for o in refused.report["outcomes"] if o["result"] == "failed"}
    assert sorted(failed) == sorted(NAMES)
    (message,) = {o["message"] for o in failed.values()}
    assert message.startswith(f"chart {reference} 0.2.0 could not be pulled: ") and "401" in message, message
    assert {o["errorKind"] for o in failed.values()} == {"pull-failed"}
    assert refused.outcome("side")["result"] == "succeeded", "the other kind installed all the same"
    assert commands.count("pull") == 1, "one refused pull for the run, not one per release"
    assert commands.count("upgrade") == 2, "helm ran only for the other kind's release"
    assert wrong_password not in refused.stdout + refused.stderr
    assert {k: v for k, v in release_records(kube, namespace).items() if ".side." not in k} == records
    assert_deployed(helm, namespace, "0.1.0", 1)
    for name in NAMES:
        ready = caches.ready(name)
        assert (ready["status"], ready["reason"]) == ("False", "UpgradeFailed") and "401" in ready["message"]
        assert wrong_password not in str(caches.get(name))

    helmcr.configure([cache_watch(chart=reference, chartVersion="9.9.9"), sidecars])
    missing, commands = sync(helmcr, namespace, {**trust, "HELM_REGISTRY_CONFIG": str(good)})
    assert missing.exit_code == 1 and commands == ["pull"]
    assert missing.outcome("alpha")["message"] == (
        f'chart {reference} 9.9.9 could not be pulled: failed to perform "FetchReference" on source: '
        f"{reference.removeprefix('oci://')}:9.9.9: not found"
    )
    assert_deployed(helm, namespace, "0.1.0", 1)


def publish(helm: Helm, repository: ChartRepository, namespace: str, tmp_path: Path, *versions: str) -> str:
    url = ""
    for version in versions:
        url = repository.publish(helm, package(helm, version, tmp_path), namespace)
    return url


def test_a_repository_chart_is_pulled_once_per_run_and_version(
    helmcr: Helmcr, helm: Helm, caches: Resources, namespace: str, chart_repository: ChartRepository, tmp_path: Path
) -> None:
    url = publish(helm, chart_repository, namespace, tmp_path, "0.1.0", "0.2.0")
    config = read_only(chart_repository.add_to(helm, "private", tmp_path / "repo-secret" / "repositories.yaml", url))
    env = {"SSL_CERT_FILE": str(chart_repository.ca_cert), "HELM_REPOSITORY_CONFIG": str(config)}
    helmcr.configure([cache_watch(chart="memcached", repo=url, chartVersion="0.1.0")])
    for name in NAMES:
        caches.create(name, {"replicaCount": 1})
    index_before = served(chart_repository.log_path, f"GET /{namespace}/index.yaml")

    installed, commands = sync(helmcr, namespace, env)
    assert installed.exit_code == 0, installed.stderr
    assert installed.report["summary"]["installed"] == 3
    assert commands[:2] == ["repo", "pull"] and commands.count("pull") == 1 and installed.helm_processes == 9
    assert served(chart_repository.log_path, f"GET /{namespace}/index.yaml") == index_before + 1
    assert served(chart_repository.log_path, f"GET /{namespace}/memcached-0.1.0.tgz") == 1
    assert_deployed(helm, namespace, "0.1.0", 1)
    assert_ready(caches, "InstallSucceeded", "0.1.0", 1)

    idle, commands = sync(helmcr, namespace, env)
    assert (idle.exit_code, idle.helm_processes, commands) == (0, 0, [])

    helmcr.configure([cache_watch(chart="memcached", repo=url, chartVersion="0.2.0")])
    upgraded, commands = sync(helmcr, namespace, env)
    assert upgraded.exit_code == 0, upgraded.stderr
    assert commands[:2] == ["repo", "pull"] and commands.count("pull") == 1 and upgraded.helm_processes == 9
    assert served(chart_repository.log_path, f"GET /{namespace}/memcached-0.2.0.tgz") == 1
    assert_deployed(helm, namespace, "0.2.0", 2)
    assert_ready(caches, "UpgradeSucceeded", "0.2.0", 2)


def test_a_refused_repository_password_fails_each_release_and_touches_none(
    helmcr: Helmcr,
    helm: Helm,
    caches: Resources,
    namespace: str,
    chart_repository: ChartRepository,
    kube: client.ApiClient,
    tmp_path: Path,
) -> None:
    url = publish(helm, chart_repository, namespace, tmp_path, "0.1.0", "0.2.0")
    good = chart_repository.add_to(helm, "private", tmp_path / "good" / "repositories.yaml", url)
    wrong_password = "not-the-repository-password"
    wrong = chart_repository.add_to(helm, "private", tmp_path / "wrong" / "repositories.yaml", url, wrong_password)
    trust = {"SSL_CERT_FILE": str(chart_repository.ca_cert)}
    helmcr.configure([cache_watch(chart="memcached", repo=url, chartVersion="0.1.0")])
    for name in NAMES:
        caches.create(name, {"replicaCount": 1})
    assert sync(helmcr, namespace, {**trust, "HELM_REPOSITORY_CONFIG": str(good)})[0].exit_code == 0
    records = release_records(kube, namespace)

    helmcr.configure([cache_watch(chart="memcached", repo=url, chartVersion="0.2.0")])
    refused, commands = sync(helmcr, namespace, {**trust, "HELM_REPOSITORY_CONFIG": str(wrong)})

    assert refused.exit_code == 1
    assert commands == ["repo"], "the index was refused: no pull, no helm for any release"
    (message,) = {o["message"] for o in refused.report["outcomes"]}
    assert message == (
        f"chart memcached 0.2.0 from {url} could not be pulled: failed to fetch {url}/index.yaml : 401 Unauthorized"
    )
    assert {o["errorKind"] for o in refused.report["outcomes"]} == {"pull-failed"}
    assert wrong_password not in refused.stdout + refused.stderr
    assert release_records(kube, namespace) == records
    assert_deployed(helm, namespace, "0.1.0", 1)
    for name in NAMES:
        ready = caches.ready(name)
        assert (ready["status"], ready["reason"]) == ("False", "UpgradeFailed") and "401" in ready["message"]


def test_the_servers_stop_with_their_context_and_a_registry_that_cannot_start_says_why(tmp_path: Path) -> None:
    tls = local_tls(tmp_path / "tls")
    trust = ssl.create_default_context(cafile=str(tls.ca_cert))
    with OciRegistry(tmp_path / "registry", tls) as registry, ChartRepository(tmp_path / "repository", tls) as repo:
        ports = (registry.port, repo.port)
        assert [http_status(port, "/v2/", trust) for port in ports] == [401, 401], "up, and asking for a password"
    assert [http_status(port, "/v2/", trust) for port in ports] == [None, None], "nothing listens any more"
    assert "GET /v2/" in registry.log_path.read_text()

    broken = OciRegistry(tmp_path / "broken", replace(tls, key=tmp_path / "no-such.key"))
    with pytest.raises(RegistryError, match=r"the OCI registry on 127\.0\.0\.1:\d+ (exited|was not ready)") as caught:
        broken.start()
    assert "no-such.key" in str(caught.value), "the log's tail says why"
    assert http_status(broken.port, "/v2/", trust) is None
