"""Fixtures for tests against the real control plane and the real helm binaries.

One control plane serves the whole session (it starts in a few seconds, but a fresh one per test would still dominate
the run time); tests are isolated from each other by namespaces instead. Missing binaries are built on first use, and
a build failure fails the tests, never skips them.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client

from devenv.controlplane import ControlPlane
from devenv.helmcli import Helm, isolated_helm
from tests.integration.node_fixtures import helmcr_image, helmcr_image_archive, node, node_slot  # noqa: F401
from tests.integration.registry_fixtures import chart_repository, oci_registry, registry_tls  # noqa: F401
from tests.integration.support import CACHE, Helmcr, Kind, Resources, cache_watch, install_crd

DEFAULT_SERVICE_ACCOUNT_TIMEOUT = 30.0


@pytest.fixture(scope="session")
def control_plane() -> Iterator[ControlPlane]:
    """etcd + kube-apiserver + kube-controller-manager for the session; stopped even on failure or Ctrl-C."""
    with ControlPlane() as plane:
        yield plane


@pytest.fixture(scope="session")
def kube(control_plane: ControlPlane) -> Iterator[client.ApiClient]:
    """An ApiClient with cluster-admin rights (client certificate in group system:masters)."""
    with control_plane.admin_client() as api:
        yield api


def namespace_name(test_name: str) -> str:
    """A valid, unique namespace name that still tells which test made it (for reading the apiserver log)."""
    slug = re.sub(r"[^a-z0-9]+", "-", test_name.lower()).strip("-")[:40].strip("-")
    return f"t-{slug}-{secrets.token_hex(3)}"


def wait_for_default_service_account(core: client.CoreV1Api, namespace: str) -> None:
    """Wait until the controller manager created the namespace's ``default`` ServiceAccount.

    The ServiceAccount admission plugin rejects Pods until it exists; in a real cluster it is there long before anyone
    installs a chart, so tests should not race it.
    """
    deadline = time.monotonic() + DEFAULT_SERVICE_ACCOUNT_TIMEOUT
    while True:
        try:
            core.read_namespaced_service_account("default", namespace)
            return
        except client.ApiException as error:
            if error.status != 404 or time.monotonic() > deadline:
                raise
        time.sleep(0.05)


@pytest.fixture
def namespace(kube: client.ApiClient, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace for one test, deleted afterwards (without waiting for finalization)."""
    core = client.CoreV1Api(kube)
    name = namespace_name(request.node.name)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    wait_for_default_service_account(core, name)
    yield name
    try:
        core.delete_namespace(name, propagation_policy="Background")
    except client.ApiException as error:
        if error.status != 404:
            raise


@pytest.fixture(params=[3, 4], ids=["helm3", "helm4"])
def helm(request: pytest.FixtureRequest, control_plane: ControlPlane, tmp_path: Path) -> Helm:
    """The pinned helm 3 or helm 4, talking to the session's control plane, with a private HOME and helm dirs."""
    major: int = request.param
    return isolated_helm(
        major, control_plane.kubeconfig, tmp_path / f"helm{major}-home", extra_path=control_plane.bin_path(major)
    )


@pytest.fixture(scope="session")
def cache_kind(kube: client.ApiClient) -> Kind:
    """The Cache kind (free-form spec), for tests that use the project's example chart."""
    install_crd(kube, CACHE)
    return CACHE


@pytest.fixture
def caches(kube: client.ApiClient, cache_kind: Kind, namespace: str) -> Resources:
    return Resources(kube, cache_kind, namespace)


@pytest.fixture
def helmcr(tmp_path: Path, helm: Helm, control_plane: ControlPlane, cache_kind: Kind) -> Helmcr:
    """helmcr over the Cache kind with a short lease (a killed run's lease expires in 10 s); modules that test
    other kinds define their own ``helmcr``."""
    runner = Helmcr(tmp_path, helm, control_plane.kubeconfig)
    runner.configure([cache_watch()], lease={"durationSeconds": 10})
    return runner
