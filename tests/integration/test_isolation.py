"""A CR affects only its own release, in its own namespace, and its values reach helm exactly as written."""

from __future__ import annotations

import json
from typing import Any

from kubernetes import client

from devenv.helmcli import Helm
from tests.integration.support import REPO, Helmcr, Resources, cache_watch

SETTINGS_CHART = str(REPO / "tests" / "fixtures" / "charts" / "settings")
AWKWARD: dict[str, Any] = {
    "greeting": "--set=replicaCount=99 --namespace kube-system",
    "yamlish": ["yes", "no", "null", "~", "0x1F", "1e3", "0777", ": colon", "# hash", "- dash", "{a: b}", "'q'", '"d"'],
    "unicode": "Grüße, 你好, 🚀, \u202e reversed",
    "multiline": "line one\nline two\n\ttabbed\n",
    "-n": "other",
    "namespace": "kube-system",
    "empty": "",
    "nothing": None,
    "deep": {"a": {"b": {"c": [1, 2.5, True, {"d": "e"}]}}},
}


def deployed_values(helm: Helm, namespace: str, release: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(helm.run("get", "values", release, "-n", namespace, "-o", "json").stdout)
    return document


def test_awkward_values_pass_through_intact_and_cannot_steer_helm(
    helmcr: Helmcr, caches: Resources, namespace: str, helm: Helm, kube: client.ApiClient
) -> None:
    helmcr.configure([cache_watch(chart=SETTINGS_CHART)])
    caches.create("awkward", AWKWARD)
    run = helmcr.sync("-n", namespace, "-o", "json")
    assert run.exit_code == 0, run.stdout + run.stderr
    assert deployed_values(helm, namespace, "awkward") == AWKWARD
    settings = client.CoreV1Api(kube).read_namespaced_config_map("awkward-settings", namespace)
    assert settings.data == {"greeting": AWKWARD["greeting"]}
    assert json.loads(helm.run("list", "-n", "kube-system", "-o", "json").stdout) == []
    again = helmcr.sync("-n", namespace, "-o", "json")
    assert (again.outcome("awkward")["action"], again.helm_processes) == ("skip", 0)


def test_a_spec_near_the_object_size_limit_passes_through(
    helmcr: Helmcr, caches: Resources, namespace: str, helm: Helm
) -> None:
    helmcr.configure([cache_watch(chart=SETTINGS_CHART)])
    big = {"blob": "".join(f"{i:08d} helmcr keeps every byte of this line\n" for i in range(18_000))}  # ~0.9 MiB
    caches.create("big", big)
    run = helmcr.sync("-n", namespace, "-o", "json")
    assert run.exit_code == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert deployed_values(helm, namespace, "big") == big


def test_each_cr_reaches_only_its_own_release(
    helmcr: Helmcr, caches: Resources, namespace: str, helm: Helm, kube: client.ApiClient
) -> None:
    other = f"{namespace}-x"
    client.CoreV1Api(kube).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=other)))
    neighbours = Resources(kube, caches.kind, other)
    try:
        helmcr.configure([cache_watch(chart=SETTINGS_CHART)])
        caches.create("twin", {"greeting": "mine"})
        neighbours.create("twin", {"greeting": "theirs"})
        assert helmcr.sync("-n", namespace).exit_code == 0
        assert helmcr.sync("-n", other).exit_code == 0
        caches.delete("twin")
        run = helmcr.sync("-n", namespace, "-o", "json")
        assert run.outcome("twin")["action"] == "uninstall"
        assert deployed_values(helm, other, "twin") == {"greeting": "theirs"}
    finally:
        client.CoreV1Api(kube).delete_namespace(other)
