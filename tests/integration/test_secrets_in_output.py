"""A secret value is masked in every output, in every form helm or the API server may print it: status, Events,
the report in each format, logs at any level, and the preview's diff (real control plane, helm 3 and 4)."""

from __future__ import annotations

import base64
import json
import os
import signal
from pathlib import Path

from kubernetes import client

from devenv.helmcli import Helm
from tests.integration.support import REPO, Helmcr, Resources, Run, cache_watch, releases, wait_for

LEAKY = str(REPO / "tests" / "fixtures" / "charts" / "leaky")
PEM = (
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n"
    "MzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu\n"
    "-----END PRIVATE KEY-----\n"
)
OPAQUE = "w0-opaque-value"  # secret only because values.schema.json says writeOnly
QUOTED = 'pa"ss\\w0rd-quoted'  # escaped by Go in the API server's message


def leaked_forms() -> list[str]:
    forms = [line for line in PEM.splitlines() if len(line) > 30]
    forms += [base64.b64encode(PEM.encode()).decode()[:40], json.dumps(PEM)[1:40], OPAQUE, "w0rd-quoted"]
    return forms


def everything_printed(run: Run, caches: Resources, kube: client.ApiClient, namespace: str, name: str) -> str:
    events = client.CoreV1Api(kube).list_namespaced_event(namespace).items
    status = caches.get(name).get("status") or {}
    return "\n".join([run.stdout, run.stderr, json.dumps(status), *(str(e.message) for e in events)])


def test_a_failure_quoting_secrets_shows_none_of_them(
    helmcr: Helmcr, caches: Resources, kube: client.ApiClient, namespace: str, helm: Helm
) -> None:
    helmcr.configure([cache_watch(chart=LEAKY)])
    caches.create("pem", {"fail": True, "tls": {"key": PEM}, "opaque": OPAQUE})
    caches.create("quoted", {"label": True, "opaque": QUOTED})
    for output in ("json", "text"):
        caches.annotate("pem", {"helmcr.io/retry": output})
        caches.annotate("quoted", {"helmcr.io/retry": output})
        run = helmcr.sync("-n", namespace, "-o", output, "-v")
        assert run.exit_code == 1
        for name in ("pem", "quoted"):
            printed = everything_printed(run, caches, kube, namespace, name)
            assert "***" in caches.ready(name)["message"], caches.ready(name)["message"]
            leaks = [form for form in leaked_forms() if form in printed]
            assert leaks == [], f"{output}, {name}: {leaks}"
    assert "leak: raw=***" in caches.ready("pem")["message"], "the message stays readable around the mask"


def test_the_preview_masks_a_secret_the_chart_encodes(
    helmcr: Helmcr, caches: Resources, kube: client.ApiClient, namespace: str
) -> None:
    helmcr.configure([cache_watch(chart=LEAKY)])
    caches.create("enc", {"tls": {"key": "first-" + OPAQUE}, "opaque": OPAQUE})
    assert helmcr.sync("-n", namespace).exit_code == 0
    caches.patch_spec("enc", {"tls": {"key": PEM}, "opaque": "second-" + OPAQUE})
    for output in ("text", "json", "markdown"):
        run = helmcr.run(("diff",), "-n", namespace, "-o", output)
        assert run.exit_code == 0, run.stderr
        leaks = [form for form in leaked_forms() if form in run.stdout + run.stderr]
        assert leaks == [], f"{output}: {leaks}"


def test_helmcr_killed_mid_upgrade_leaves_no_values_on_disk_and_its_helm_finishes(
    helmcr: Helmcr, caches: Resources, namespace: str, helm: Helm, tmp_path: Path
) -> None:
    # Pods never get Ready here, so helm waits out its timeout; the lease is this test's, as the killed run keeps it
    helmcr.configure([cache_watch(wait=True, timeout="8s", stuckAfter="60s")], lease={"namespace": namespace})
    caches.create("waits", {"replicaCount": 1, "auth": {"password": OPAQUE}})
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    running = helmcr.start("-n", namespace, env={"TMPDIR": str(scratch)})
    wait_for(lambda: releases(helm, namespace).get("waits") == (1, "pending-install"), "helm to be mid-install")
    running.send_signal(signal.SIGKILL)
    running.wait()
    # helm's version (asked once per run), the object check's dry run finished; the upgrade runs
    (_, version), (_, check), (helm_pid, upgrade) = helmcr.helm_pids()
    assert (version, check, upgrade) == ("version", "upgrade", "upgrade")
    os.kill(helm_pid, 0)  # helm outlives the helmcr that started it
    on_disk = [p for p in scratch.rglob("*") if p.is_file() and OPAQUE.encode() in p.read_bytes()]
    assert on_disk == [], "no file holds a value after helmcr is killed"
    wait_for(lambda: releases(helm, namespace).get("waits") == (1, "failed"), "helm to finish (its wait times out)")
