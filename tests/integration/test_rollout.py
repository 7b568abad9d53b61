"""Rollout waves and the churn guard against the real API server with helm 3 and helm 4: a kind-wide change goes
out canary first and a wave per run; one the API server rejects fails the canary and halts the rest, which keep
their revisions; resuming lets the next wave go; a release whose labels something keeps rewriting is blocked."""

from __future__ import annotations

import json
from typing import Any

from devenv.controlplane import ControlPlane
from devenv.helmcli import Helm
from tests.integration.support import Helmcr, Resources, cache_watch, kubectl, releases

NAMES = ["a", "b", "c", "d", "e"]
WAVES = {"canary": 1, "wave": 2, "failureBudget": 0}


def run(helmcr: Helmcr, namespace: str) -> tuple[int, dict[str, dict[str, Any]]]:
    done = helmcr.sync("-n", namespace, "-o", "json")
    assert done.exit_code in (0, 1), done.stdout + done.stderr
    return done.exit_code, {o["name"]: o for o in json.loads(done.stdout)["outcomes"]}


def acted(outcomes: dict[str, dict[str, Any]]) -> list[str]:
    return sorted(name for name, o in outcomes.items() if o["action"] == "upgrade")


def test_a_kind_wide_change_goes_in_waves_and_a_bad_one_halts_after_the_canary(
    helmcr: Helmcr, caches: Resources, namespace: str, helm: Helm
) -> None:
    def configure(port: int, **rollout: Any) -> None:
        helmcr.configure([cache_watch(overrideValues={"port": port}, rollout={**WAVES, **rollout})])

    configure(11211)
    for name in NAMES:
        caches.create(name, {})
    code, installed = run(helmcr, namespace)
    assert code == 0 and {o["action"] for o in installed.values()} == {"install"}

    configure(11212)
    code, canary = run(helmcr, namespace)
    assert code == 0, "a rollout going as planned is no failure"
    assert acted(canary) == ["a"]
    assert canary["e"]["state"] == "rollout-queued" and "wave 2 of 2" in canary["e"]["reason"]
    assert "wave 2 of 2" in caches.get("e")["status"]["message"]
    assert acted(run(helmcr, namespace)[1]) == ["b", "c"]
    assert acted(run(helmcr, namespace)[1]) == ["d", "e"]
    assert set(releases(helm, namespace).values()) == {(2, "deployed")}

    configure(70000)  # the API server rejects the Service: the canary fails, the rest must not follow
    code, bad = run(helmcr, namespace)
    assert (code, bad["a"]["result"]) == (1, "failed")
    code, halted = run(helmcr, namespace)
    assert code == 1 and halted["a"]["state"] == "backoff"
    assert {halted[name]["state"] for name in NAMES[1:]} == {"rollout-halted"}
    reason = halted["b"]["reason"]
    assert f"{namespace}/a" in reason and "failure budget 0" in reason, reason
    assert "rollout halted" in caches.get("b")["status"]["message"]
    # the canary's upgrade was refused by its dry run, before helm wrote a revision; the others were not touched
    assert set(releases(helm, namespace).values()) == {(2, "deployed")}

    digest = reason.split("rollout.resume: '")[1].split("'")[0]
    configure(70000, resume=digest)
    code, resumed = run(helmcr, namespace)
    assert acted(resumed) == ["b", "c"], "resumed: the next wave goes (and fails the same way)"

    configure(11213)  # the chart fixed: a new rollout, canary first again
    code, fixed = run(helmcr, namespace)
    assert acted(fixed) == ["a"], fixed


def test_a_release_whose_digest_label_something_keeps_rewriting_is_blocked_as_churn(
    helmcr: Helmcr, caches: Resources, namespace: str, helm: Helm, control_plane: ControlPlane
) -> None:
    helmcr.configure([cache_watch(maxRepeatsPerDay=2)])
    caches.create("loop", {})
    assert run(helmcr, namespace)[0] == 0

    def rewrite() -> None:
        revision = releases(helm, namespace)["loop"][0]
        record = f"sh.helm.release.v1.loop.v{revision}"
        done = kubectl(
            control_plane.kubeconfig, "label", "secret", record, "-n", namespace, "helmcr.io/digest=x", "--overwrite"
        )
        assert done.returncode == 0, done.stderr

    for _ in range(2):
        rewrite()
        assert acted(run(helmcr, namespace)[1]) == ["loop"]
    rewrite()
    code, blocked = run(helmcr, namespace)
    assert (code, blocked["loop"]["state"]) == (1, "churning")
    assert "2 times in 24 hours" in caches.get("loop")["status"]["message"]
    assert releases(helm, namespace)["loop"] == (3, "deployed"), "no third upgrade"
