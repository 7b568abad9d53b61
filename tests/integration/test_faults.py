"""Faults injected while helmcr runs, against the real control plane and the real helm 3 and helm 4.

Each test asserts that healthy releases are untouched, that nothing is lost, and that later runs converge; it
records the figures (runs needed, releases lost, seconds to converge) for docs/failure-modes.md, printed at the end
of the session and written to $HELMCR_FAULT_REPORT when set.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from devenv.controlplane import ControlPlane
from devenv.helmcli import Helm
from tests.integration.support import (
    CACHE,
    EXAMPLE_CHART,
    Helmcr,
    Resources,
    cache_watch,
    helm_status,
    install_crd,
    release_records,
    releases,
    wait_for,
)

FAULTS: list[dict[str, Any]] = []


def record(fault: str, helm: Helm, runs: int, missing: set[str], seconds: float | None) -> None:
    """``missing``: releases that should be deployed and are not, counted after the fault, never assumed."""
    FAULTS.append(
        {
            "fault": fault,
            "helm": helm.major,
            "runs": runs,
            "lost": len(missing),
            "seconds": None if seconds is None else round(seconds, 1),
        }
    )


def lost(helm: Helm, namespace: str, expected: set[str], kubeconfig: Path | None = None) -> set[str]:
    deployed = {name for name, (_, status) in releases(helm, namespace, kubeconfig).items() if status == "deployed"}
    return expected - deployed


@pytest.fixture(scope="module", autouse=True)
def fault_report(pytestconfig: pytest.Config) -> Iterator[None]:
    yield
    reporter = pytestconfig.pluginmanager.get_plugin("terminalreporter")
    lines = [
        f"{f['fault']} (helm {f['helm']}): {f['runs']} run(s), {f['lost']} releases lost, "
        f"converged in {f['seconds'] if f['seconds'] is not None else '-'} s"
        for f in FAULTS
    ]
    if reporter is not None:
        reporter.write_line("\nfault injection summary:")
        for line in lines:
            reporter.write_line("  " + line)
    if os.environ.get("HELMCR_FAULT_REPORT"):
        Path(os.environ["HELMCR_FAULT_REPORT"]).write_text(json.dumps(FAULTS, indent=2) + "\n")


def converge(helmcr: Helmcr, namespace: str, expected: set[str], helm: Helm, pause: float = 0.0) -> int:
    """Run until every expected release is deployed and the run reports success; returns the runs it took."""
    for attempt in range(1, 6):
        run = helmcr.sync("-n", namespace, "--wait-for-lock", "30", "-o", "json")
        if run.exit_code == 0 and not lost(helm, namespace, expected, helmcr.kubeconfig):
            return attempt
        time.sleep(pause)
    raise AssertionError(
        f"not converged after 5 runs: {releases(helm, namespace, helmcr.kubeconfig)}\n{run.stdout}\n{run.stderr}"
    )


def test_helmcr_killed_mid_run_is_finished_by_the_next_run(
    helmcr: Helmcr, caches: Resources, namespace: str, helm: Helm
) -> None:
    names = {f"c{i}" for i in range(4)}
    for name in sorted(names):
        caches.create(name, {"replicaCount": 1})
    running = helmcr.start("-n", namespace, "--concurrency", "1", env={"HELM_TEST_DELAY": "1"})
    # each install is the object check's dry run, then the install: the 4th helm is the second install
    wait_for(lambda: len(helmcr.helm_pids()) >= 4, "the second install to start")
    running.send_signal(signal.SIGKILL)
    running.wait()
    started = time.monotonic()
    runs = converge(helmcr, namespace, names, helm)
    assert {name: revision for name, (revision, _) in releases(helm, namespace).items()} == dict.fromkeys(names, 1)
    assert all(caches.ready(name)["status"] == "True" for name in names)
    record(
        "helmcr SIGKILLed mid-run (its lease left behind)",
        helm,
        runs,
        lost(helm, namespace, names),
        time.monotonic() - started,
    )


def test_helm_killed_mid_upgrade_leaves_pending_upgrade_which_is_recovered(
    helmcr: Helmcr, caches: Resources, namespace: str, helm: Helm
) -> None:
    settings = {"timeout": "3s", "stuckAfter": "5s", "retryBackoff": "1s"}
    helmcr.configure([cache_watch(**settings)], lease={"durationSeconds": 10})
    caches.create("victim", {"replicaCount": 1})
    caches.create("bystander", {"replicaCount": 1})
    assert helmcr.sync("-n", namespace).exit_code == 0

    helmcr.configure([cache_watch(wait=True, **settings)], lease={"durationSeconds": 10})
    caches.patch_spec("victim", {"replicaCount": 2})
    running = helmcr.start("-n", namespace)
    wait_for(lambda: releases(helm, namespace)["victim"] == (2, "pending-upgrade"), "victim to be pending-upgrade")
    os.kill(helmcr.helm_pids()[-1][0], signal.SIGKILL)
    stdout, _ = running.communicate(timeout=60)
    assert running.returncode == 1 and "stopped by signal 9" in stdout
    assert releases(helm, namespace)["bystander"] == (1, "deployed")

    helmcr.configure([cache_watch(**settings)], lease={"durationSeconds": 10})
    too_early = helmcr.sync("-n", namespace, "-o", "json")
    assert too_early.outcome("victim")["state"] == "locked", "a pending release is not touched before stuckAfter"
    started = time.monotonic()
    time.sleep(5)
    runs = converge(helmcr, namespace, {"victim", "bystander"}, helm)
    history = json.loads(helm.run("history", "victim", "-n", namespace, "-o", "json").stdout)
    assert [entry["status"] for entry in history] == ["superseded", "failed", "deployed"]
    assert releases(helm, namespace)["bystander"] == (1, "deployed")
    record(
        "helm SIGKILLed mid-upgrade (pending-upgrade)",
        helm,
        runs + 1,
        lost(helm, namespace, {"victim", "bystander"}),
        time.monotonic() - started,
    )


def test_two_runs_at_the_same_moment_never_act_twice(
    helmcr: Helmcr, caches: Resources, namespace: str, helm: Helm
) -> None:
    names = {f"r{i}" for i in range(4)}
    for name in sorted(names):
        caches.create(name, {"replicaCount": 1})
    slow = {"HELM_TEST_DELAY": "0.5"}
    first, second = (helmcr.start("-n", namespace, "--concurrency", "2", env=slow) for _ in range(2))
    finished = [process.communicate(timeout=120) for process in (first, second)]
    codes = sorted(process.returncode for process in (first, second))
    outputs = "".join(out + err for out, err in finished)
    assert codes == [0, 5], outputs
    assert "another helmcr run holds the lease" in outputs
    assert {name: revision for name, (revision, _) in releases(helm, namespace).items()} == dict.fromkeys(names, 1)

    for name in sorted(names):
        caches.patch_spec(name, {"replicaCount": 2})
    waiting = [helmcr.start("-n", namespace, "--wait-for-lock", "60", env=slow) for _ in range(2)]
    assert [process.communicate(timeout=120) and process.returncode for process in waiting] == [0, 0]
    assert {name: revision for name, (revision, _) in releases(helm, namespace).items()} == dict.fromkeys(names, 2)
    record("two runs started at the same moment (twice)", helm, 2, lost(helm, namespace, names), None)


def test_mass_deletion_beyond_the_budget_uninstalls_nothing_until_forced(
    helmcr: Helmcr, caches: Resources, namespace: str, helm: Helm, kube: client.ApiClient
) -> None:
    names = [f"m{i:03d}" for i in range(100)]
    for name in names:
        caches.create(name, {"replicaCount": 1})
    assert helmcr.sync("-n", namespace, "--concurrency", "8").exit_code == 0
    for name in names:
        caches.delete(name)
    records = release_records(kube, namespace)

    refused = helmcr.sync("-n", namespace, "--max-uninstalls", "10", "-o", "json")
    wrongly_uninstalled = set(names) - set(releases(helm, namespace))
    assert refused.exit_code == 1 and refused.helm_processes == 0
    assert {o["state"] for o in refused.report["outcomes"]} == {"over-budget"}
    assert "100 releases would be uninstalled, more than --max-uninstalls 10" in refused.report["outcomes"][0]["reason"]
    assert release_records(kube, namespace) == records

    started = time.monotonic()
    forced = helmcr.sync("-n", namespace, "--max-uninstalls", "10", "--force-uninstalls", "--concurrency", "8")
    assert forced.exit_code == 0 and releases(helm, namespace) == {}
    record("100 CRs deleted at once, budget 10 (then forced)", helm, 2, wrongly_uninstalled, time.monotonic() - started)


def test_a_chart_that_stops_rendering_fails_upgrades_but_keeps_the_releases(
    helmcr: Helmcr, caches: Resources, namespace: str, helm: Helm, tmp_path: Path
) -> None:
    chart = tmp_path / "chart"
    subprocess.run(["cp", "-r", str(EXAMPLE_CHART), str(chart)], check=True)
    template = chart / "templates" / "statefulset.yaml"
    original = template.read_text()
    helmcr.configure([cache_watch(chart=str(chart), retryBackoff="1s")])
    caches.create("one", {"replicaCount": 1})
    caches.create("two", {"replicaCount": 1})
    assert helmcr.sync("-n", namespace).exit_code == 0

    template.write_text('{{ fail "broken on purpose" }}\n' + original)
    broken = helmcr.sync("-n", namespace, "-o", "json")
    assert broken.exit_code == 1
    assert {broken.outcome(n)["result"] for n in ("one", "two")} == {"failed"}
    assert "broken on purpose" in caches.ready("one")["message"]
    assert releases(helm, namespace) == {"one": (1, "deployed"), "two": (1, "deployed")}

    started = time.monotonic()
    template.write_text(original)
    runs = converge(helmcr, namespace, {"one", "two"}, helm)
    assert releases(helm, namespace) == {"one": (1, "deployed"), "two": (1, "deployed")}
    assert caches.ready("one")["status"] == "True" and "failures" not in caches.get("one")["status"]
    record(
        "chart stops rendering (then fixed)",
        helm,
        runs + 1,
        lost(helm, namespace, {"one", "two"}),
        time.monotonic() - started,
    )


def test_a_corrupted_release_record_fails_only_its_release_and_is_left_untouched(
    helmcr: Helmcr, caches: Resources, namespace: str, helm: Helm, kube: client.ApiClient
) -> None:
    caches.create("corrupt", {"replicaCount": 1})
    caches.create("sound", {"replicaCount": 1})
    assert helmcr.sync("-n", namespace).exit_code == 0
    core = client.CoreV1Api(kube)
    garbage = base64.b64encode(b"not a helm release").decode()
    core.patch_namespaced_secret("sh.helm.release.v1.corrupt.v1", namespace, {"data": {"release": garbage}})
    corrupted = release_records(kube, namespace)["sh.helm.release.v1.corrupt.v1"]

    caches.patch_spec("corrupt", {"replicaCount": 2})
    caches.patch_spec("sound", {"replicaCount": 2})
    run = helmcr.sync("-n", namespace, "-o", "json")
    assert run.exit_code == 1
    assert (run.outcome("corrupt")["result"], run.outcome("sound")["result"]) == ("failed", "succeeded")
    assert caches.ready("corrupt")["reason"] == "UpgradeFailed"
    assert release_records(kube, namespace)["sh.helm.release.v1.corrupt.v1"] == corrupted
    assert helm_status(helm, namespace, "sound")["version"] == 2
    record("corrupted release record", helm, 1, lost(helm, namespace, {"sound"}), None)


@pytest.fixture(scope="module")
def fragile_plane() -> Iterator[ControlPlane]:
    """A control plane of its own, since these tests stop and freeze its components."""
    with ControlPlane() as plane:
        with plane.admin_client() as api:
            install_crd(api, CACHE)
        yield plane


@pytest.fixture
def fragile(
    fragile_plane: ControlPlane, tmp_path: Path, helm: Helm, request: pytest.FixtureRequest
) -> Iterator[tuple[Helmcr, Resources, str]]:
    namespace = f"fault-{request.node.name.split('[')[-1].rstrip(']')}-{time.monotonic_ns() % 100000}"
    with fragile_plane.admin_client() as api:
        client.CoreV1Api(api).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
        runner = Helmcr(tmp_path, helm, fragile_plane.kubeconfig)
        runner.configure(
            [cache_watch(timeout="10s", stuckAfter="12s", retryBackoff="1s")], lease={"durationSeconds": 10}
        )
        yield runner, Resources(api, CACHE, namespace), namespace


@pytest.mark.parametrize(("component", "outage"), [("kube-apiserver", "stop"), ("etcd", "pause")])
def test_an_outage_mid_run_loses_nothing_and_the_next_runs_converge(
    fragile_plane: ControlPlane, fragile: tuple[Helmcr, Resources, str], helm: Helm, component: str, outage: str
) -> None:
    helmcr, caches, namespace = fragile
    caches.create("healthy", {"replicaCount": 1})
    assert helmcr.sync("-n", namespace).exit_code == 0
    names = {f"n{i}" for i in range(4)}
    for name in sorted(names):
        caches.create(name, {"replicaCount": 1})
    running = helmcr.start("-n", namespace, "--concurrency", "1", env={"HELM_TEST_DELAY": "0.5"})
    # two helms per install (the object check's dry run first), the first two for "healthy"
    wait_for(lambda: len(helmcr.helm_pids()) >= 6, "the second install to start")
    if outage == "stop":
        fragile_plane.stop_component(component)
        time.sleep(2)
        fragile_plane.start_component(component)
    else:
        fragile_plane.pause(component)
        time.sleep(2)
        fragile_plane.resume(component)
    stdout, stderr = running.communicate(timeout=300)
    if outage == "stop":
        assert running.returncode != 0, f"the outage should have failed something:\n{stdout}\n{stderr}"
    print(f"run during the outage exited {running.returncode}:\n{stdout}\n{stderr}")
    started = time.monotonic()
    runs = converge(helmcr, namespace, names | {"healthy"}, helm, pause=6)
    assert releases(helm, namespace, fragile_plane.kubeconfig)["healthy"] == (1, "deployed")
    assert all(caches.ready(name)["status"] == "True" for name in names)
    record(
        f"{component} {'stopped 2 s and restarted' if outage == 'stop' else 'frozen (SIGSTOP) 2 s'} mid-run",
        helm,
        runs + 1,
        lost(helm, namespace, names | {"healthy"}, fragile_plane.kubeconfig),
        time.monotonic() - started,
    )
