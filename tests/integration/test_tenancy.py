"""What one CR, or one kind, can do to the others and to the run, on the real control plane with helm 3 and 4."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from kubernetes import client

from devenv.helmcli import Helm
from tests.integration.support import GROUP, Helmcr, Kind, Resources, cache_watch, install_crd, releases

STORE = Kind("Store", "stores")


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


__all__ = ["GROUP"]
