"""The run lease on the real control plane: one per config wherever the run is, and never taken from a live holder
whatever the clocks say (helm 3 and 4)."""

from __future__ import annotations

import contextlib
import datetime
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from devenv.helmcli import Helm
from tests.integration.support import Helmcr, Resources, cache_watch, releases

LEASES = ("coordination.k8s.io", "v1", "default", "leases")


def micro(seconds_ago: float) -> str:
    moment = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=seconds_ago)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def lease_body(name: str, holder: str, renewed_ago: float, duration: int) -> dict[str, Any]:
    stamp = micro(renewed_ago)
    spec = {"holderIdentity": holder, "leaseDurationSeconds": duration, "acquireTime": stamp, "renewTime": stamp}
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": name}, "spec": spec}


@pytest.fixture
def lease_name(kube: client.ApiClient, namespace: str) -> Iterator[str]:
    """A lease in ``default`` of this test's own; removed after it."""
    name = f"lease-{namespace}"[:63]
    yield name
    with contextlib.suppress(client.ApiException):
        client.CustomObjectsApi(kube).delete_namespaced_custom_object(*LEASES, name)


def held_by(
    helmcr: Helmcr, kube: client.ApiClient, name: str, holder: str, renewed_ago: float, duration: int
) -> client.CustomObjectsApi:
    """This test's config, whose lease another run (``holder``) holds, as it was ``renewed_ago`` seconds ago."""
    helmcr.configure([cache_watch()], lease={"name": name})
    custom = client.CustomObjectsApi(kube)
    custom.create_namespaced_custom_object(*LEASES, lease_body(name, holder, renewed_ago, duration))
    return custom


def test_one_lease_per_config_whatever_the_kubeconfigs_namespace(
    helmcr: Helmcr, caches: Resources, kube: client.ApiClient, namespace: str, lease_name: str, tmp_path: Path
) -> None:
    held_by(helmcr, kube, lease_name, "admin-run", renewed_ago=0, duration=60)
    elsewhere = yaml.safe_load(helmcr.kubeconfig.read_text())
    elsewhere["contexts"][0]["context"]["namespace"] = namespace  # another context namespace: the same lease
    other = tmp_path / "namespaced.kubeconfig"
    other.write_text(yaml.safe_dump(elsewhere))
    caches.create("cache", {"replicaCount": 1})
    run = helmcr.sync("-n", namespace, kubeconfig=other)
    assert run.exit_code == 5 and "admin-run" in run.stderr, run.stderr
    assert run.helm_processes == 0


def test_a_live_holder_with_a_skewed_clock_keeps_the_lease_and_a_dead_one_loses_it(
    helmcr: Helmcr, caches: Resources, kube: client.ApiClient, namespace: str, lease_name: str, helm: Helm
) -> None:
    custom = held_by(helmcr, kube, lease_name, "skewed-run", renewed_ago=300, duration=6)
    caches.create("cache", {"replicaCount": 1})

    def renew_with_a_clock_five_minutes_behind() -> None:
        while not stop.wait(1.5):
            custom.patch_namespaced_custom_object(*LEASES, lease_name, {"spec": {"renewTime": micro(300)}})

    stop = threading.Event()
    renewer = threading.Thread(target=renew_with_a_clock_five_minutes_behind, daemon=True)
    renewer.start()
    try:
        held = helmcr.sync("-n", namespace)
    finally:
        stop.set()
        renewer.join()
    assert held.exit_code == 5 and "skewed-run" in held.stderr, held.stderr
    assert releases(helm, namespace) == {}, "a live holder's lease is never taken, whatever its renewTime says"
    taken = helmcr.sync("-n", namespace)  # the holder is silent now: watched for one term, then taken over
    assert taken.exit_code == 0, taken.stderr
    assert releases(helm, namespace) == {"cache": (1, "deployed")}
