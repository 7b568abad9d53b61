"""Signals, time budgets, rollback on failure, keep, and recovery of a stuck install, on the real stack."""

from __future__ import annotations

import json
import os
import signal
import time

from devenv.helmcli import Helm
from tests.integration.support import REPO, Helmcr, Resources, cache_watch, releases, wait_for


def history(helm: Helm, namespace: str, release: str) -> list[str]:
    entries = json.loads(helm.run("history", release, "-n", namespace, "-o", "json").stdout)
    return [entry["status"] for entry in entries]


def test_sigterm_lets_running_helm_finish_starts_nothing_new_and_exits_130(
    helmcr: Helmcr, caches: Resources, namespace: str, helm: Helm
) -> None:
    for name in ("s0", "s1", "s2"):
        caches.create(name, {"replicaCount": 1})
    running = helmcr.start("-n", namespace, "--concurrency", "1", env={"HELM_TEST_DELAY": "2"})
    wait_for(lambda: helmcr.calls.exists(), "the first helm to start")
    running.send_signal(signal.SIGTERM)
    stdout, stderr = running.communicate(timeout=120)
    assert running.returncode == 130, stderr
    assert "received SIGTERM: starting nothing new" in stderr
    assert releases(helm, namespace) == {"s0": (1, "deployed")}, "the running install finished, no other started"
    assert caches.ready("s0")["reason"] == "InstallSucceeded", "its status was written"
    assert "status" not in caches.get("s1") and "not started: helmcr was asked to stop" in stdout


def test_time_budget_starts_nothing_that_could_outlast_it(helmcr: Helmcr, caches: Resources, namespace: str) -> None:
    helmcr.configure([cache_watch(timeout="2m", stuckAfter="5m")])
    caches.create("late", {"replicaCount": 1})
    run = helmcr.sync("-n", namespace, "--time-budget", "60", "-o", "json")
    assert run.exit_code == 1 and run.helm_processes == 0
    assert run.outcome("late")["result"] == "not-started"
    assert "time budget" in run.outcome("late")["message"]


def test_rollback_on_failure_returns_to_the_last_good_revision_and_never_uninstalls(
    helmcr: Helmcr, caches: Resources, namespace: str, helm: Helm
) -> None:
    chart = str(REPO / "tests" / "fixtures" / "charts" / "settings")  # no Pods: its readiness wait can succeed
    helmcr.configure([cache_watch(chart=chart, rollbackOnFailure=True, timeout="20s", retryBackoff="1s")])
    caches.create("atomic", {"greeting": "hi"})
    assert helmcr.sync("-n", namespace).exit_code == 0
    caches.patch_spec("atomic", {"port": 99999})  # the API server rejects the Service
    run = helmcr.sync("-n", namespace, "-o", "json")
    assert run.exit_code == 1 and run.outcome("atomic")["result"] == "failed"
    assert "99999" in caches.ready("atomic")["message"]
    assert history(helm, namespace, "atomic") == ["superseded", "failed", "deployed"], "rolled back to revision 1"
    assert caches.ready("atomic")["reason"] == "UpgradeFailed"
    assert caches.get("atomic")["status"]["revision"] == 1, "status still names what was deployed before"


def test_a_kept_release_survives_its_cr(helmcr: Helmcr, caches: Resources, namespace: str, helm: Helm) -> None:
    caches.create("precious", {"replicaCount": 1})
    caches.create("ordinary", {"replicaCount": 1})
    assert helmcr.sync("-n", namespace).exit_code == 0
    caches.annotate("precious", {"helmcr.io/keep": "true"})
    labelled = helmcr.sync("-n", namespace, "-o", "json")
    assert labelled.outcome("precious")["action"] == "upgrade", "the keep label travels with an upgrade"
    caches.delete("precious")
    caches.delete("ordinary")
    run = helmcr.sync("-n", namespace, "-o", "json")
    assert run.exit_code == 0
    assert (run.outcome("precious")["state"], run.outcome("ordinary")["action"]) == ("kept", "uninstall")
    assert set(releases(helm, namespace)) == {"precious"}


def test_an_install_stuck_in_pending_install_is_uninstalled_and_installed_again(
    helmcr: Helmcr, caches: Resources, namespace: str, helm: Helm
) -> None:
    helmcr.configure([cache_watch(wait=True, timeout="3s", stuckAfter="5s")])
    caches.create("frozen", {"replicaCount": 1})
    running = helmcr.start("-n", namespace)
    wait_for(lambda: releases(helm, namespace).get("frozen") == (1, "pending-install"), "a pending install")
    os.kill(helmcr.helm_pids()[-1][0], signal.SIGKILL)
    running.communicate(timeout=60)
    time.sleep(5)
    helmcr.configure([cache_watch(timeout="3s", stuckAfter="5s")])
    caches.annotate("frozen", {"helmcr.io/retry": "after-the-crash"})
    run = helmcr.sync("-n", namespace, "-o", "json")
    assert run.exit_code == 0, run.stdout + run.stderr
    assert (run.outcome("frozen")["state"], run.outcome("frozen")["result"]) == ("stuck", "succeeded")
    assert history(helm, namespace, "frozen") == ["deployed"], "uninstalled, then installed afresh"
