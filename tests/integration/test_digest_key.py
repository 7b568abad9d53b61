"""Keyed digests on the real control plane: with a digest key, nothing helmcr writes lets anyone confirm a guessed
value offline (CR status, release labels, saved plans), turning the key on upgrades nothing, and a run without the
key changes nothing it cannot judge (helm 3 and 4)."""

from __future__ import annotations

import json
from pathlib import Path

from kubernetes import client

from devenv.helmcli import Helm
from reconcile.charts import resolve_chart
from reconcile.desired import desired_from_resource
from reconcile.settings import Watch
from tests.integration.support import Helmcr, Resources, cache_watch, releases

KEY = {"HELMCR_DIGEST_KEY": "a-32-byte-digest-key-for-tests-00"}


def unkeyed_digest(caches: Resources, name: str) -> str:
    """What anyone can compute from a guessed spec: the digest without the key."""
    watch = Watch(**{k: v for k, v in cache_watch().items() if k in ("group", "version", "kind", "chart")})
    chart = resolve_chart(watch, Path("/"))
    return desired_from_resource(caches.get(name), watch, chart).digest


def everything_written(kube: client.ApiClient, caches: Resources, namespace: str, name: str, plan: Path) -> str:
    records = client.CoreV1Api(kube).list_namespaced_secret(namespace, label_selector="owner=helm").items
    labels = [json.dumps(r.metadata.labels) for r in records if r.metadata]
    return "\n".join([json.dumps(caches.get(name).get("status") or {}), *labels, plan.read_text()])


def test_with_a_digest_key_no_digest_can_be_recomputed_and_turning_it_on_upgrades_nothing(
    helmcr: Helmcr, caches: Resources, kube: client.ApiClient, namespace: str, helm: Helm, tmp_path: Path
) -> None:
    helmcr.configure([cache_watch()])
    caches.create("vault", {"replicaCount": 1, "auth": {"password": "guessable"}})
    assert helmcr.sync("-n", namespace).exit_code == 0
    plan = tmp_path / "plan.json"
    assert helmcr.run(("plan",), "-n", namespace, "--out", str(plan)).exit_code == 0
    guess = unkeyed_digest(caches, "vault")
    assert guess in everything_written(kube, caches, namespace, "vault", plan), "unkeyed, the guess is confirmed"

    turned_on = helmcr.sync("-n", namespace, "-o", "json", env=KEY)
    assert (turned_on.outcome("vault")["action"], turned_on.helm_processes) == ("skip", 0)
    caches.patch_spec("vault", {"replicaCount": 2, "auth": {"password": "guessable"}})
    assert helmcr.run(("plan",), "-n", namespace, "--out", str(plan), env=KEY).exit_code == 0
    assert helmcr.run(("apply", str(plan)), env=KEY).exit_code == 0
    assert releases(helm, namespace) == {"vault": (2, "deployed")}
    written = everything_written(kube, caches, namespace, "vault", plan)
    assert unkeyed_digest(caches, "vault") not in written, "with the key, a guessed spec confirms nothing"
    again = helmcr.sync("-n", namespace, "-o", "json", env=KEY)
    assert (again.outcome("vault")["action"], again.helm_processes) == ("skip", 0)

    caches.patch_spec("vault", {"replicaCount": 3, "auth": {"password": "guessable"}})
    keyless = helmcr.sync("-n", namespace, "-o", "json")  # an admin's run without the CronJob's key
    assert (keyless.exit_code, keyless.helm_processes, releases(helm, namespace)) == (1, 0, {"vault": (2, "deployed")})
    assert "was deployed with digest key" in keyless.stdout + keyless.stderr
