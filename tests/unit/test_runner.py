"""The commands as the CLI calls them (run_sync, run_preview, run_apply) on the fakes: every exit code, saved plans,
and the JSON report."""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconcile.clock import now_micro
from reconcile.errors import ExitCode
from reconcile.exits import exit_code, preview_exit_code
from reconcile.model import Action, KindError, Outcome, ReleaseKey, Result, RunSummary, State, Step
from reconcile.preview import Preview
from reconcile.runner import Invocation, Output, PreviewRequest, run_apply, run_preview
from reconcile.runner import run_sync as _run_sync
from tests.unit.fakes import LEASES, FakeApiServer, FakeHelm, default_render
from tests.unit.world import CHART, World


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Outside a pod whatever the test machine is, and the signal handlers a run installs do not outlive the test."""
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path)


def write_config(tmp_path: Path, chart: Path = CHART) -> Path:
    path = tmp_path / "helmcr.yaml"
    entry = {"group": "anywhere.io", "version": "v1alpha1", "kind": "Memcached", "chart": str(chart)}
    path.write_text(yaml.safe_dump({"watches": [entry]}))
    return path


def run_sync(world: World, invocation: Invocation) -> int:
    return _run_sync(invocation, once=True, interval=0, adapters=world.adapters())


def preview(world: World, invocation: Invocation, request: PreviewRequest) -> int:
    return run_preview(invocation, request, adapters=world.adapters())


def report(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """The -o json document the last run printed."""
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    return document


def results(document: Mapping[str, Any]) -> dict[str, str]:
    return {o["release"]["name"]: o["result"] for o in document["outcomes"]}


def messages(document: Mapping[str, Any]) -> dict[str, str]:
    return {o["release"]["name"]: o["message"] for o in document["outcomes"]}


# --- 0 and 1: sync ---------------------------------------------------------------------------------------------


def test_a_converged_run_exits_0(world: World, config: Path) -> None:
    world.cr("cache")
    assert run_sync(world, Invocation(config)) == ExitCode.CONVERGED
    assert world.releases() == {"cache": (1, "deployed")}
    assert run_sync(world, Invocation(config)) == ExitCode.CONVERGED, "nothing to do is converged too"
    assert world.releases() == {"cache": (1, "deployed")}


def test_a_failed_release_exits_1_and_the_others_still_converge(world: World, config: Path) -> None:
    world.cr("good")
    world.cr("flaky")
    world.helm.fail_apply("flaky", "timed out waiting for the condition")
    assert run_sync(world, Invocation(config)) == ExitCode.NOT_CONVERGED
    assert world.releases() == {"flaky": (1, "failed"), "good": (1, "deployed")}


def test_a_blocked_release_exits_1(world: World, config: Path) -> None:
    world.cr("good")
    world.cr("bad", spec=["not", "an", "object"])  # type: ignore[arg-type]
    assert run_sync(world, Invocation(config)) == ExitCode.NOT_CONVERGED
    assert world.releases() == {"good": (1, "deployed")}
    assert world.ready("bad")["reason"] == "Blocked"


def test_a_step_not_started_exits_1(world: World, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A 10s time budget is less than helm's 5m timeout: the install is not started."""
    world.cr("cache")
    code = run_sync(world, Invocation(config, time_budget=10, output=Output.json))
    document = report(capsys)
    assert code == ExitCode.NOT_CONVERGED
    assert results(document) == {"cache": "not-started"} and "time budget" in messages(document)["cache"]
    assert world.releases() == {} and world.helm.calls_of("upgrade") == []


def test_a_status_that_cannot_be_written_exits_1(
    world: World, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world.cr("cache")
    world.server.forbid("PATCH", "memcacheds/status")
    assert run_sync(world, Invocation(config)) == ExitCode.NOT_CONVERGED
    assert world.releases() == {"cache": (1, "deployed")}, "the release itself converged"
    assert "could not write status" in capsys.readouterr().err


def test_a_missing_chart_exits_1_without_touching_the_cluster_for_that_kind(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world.cr("cache")
    missing = tmp_path / "no-such-chart"
    code = run_sync(world, Invocation(write_config(tmp_path, chart=missing), output=Output.json))
    document = report(capsys)
    assert code == ExitCode.NOT_CONVERGED
    assert document["outcomes"] == [] and len(document["errors"]) == 1 and str(missing) in document["errors"][0]
    assert world.releases() == {} and world.helm.calls == []


# --- 0, 1 and 2: preview ---------------------------------------------------------------------------------------


def test_preview_with_detailed_exitcode_is_2_while_changes_are_pending_and_0_after(world: World, config: Path) -> None:
    world.cr("cache")
    assert preview(world, Invocation(config), PreviewRequest(detailed_exitcode=True)) == ExitCode.CHANGES_PENDING
    assert preview(world, Invocation(config), PreviewRequest()) == ExitCode.CONVERGED, "without the flag: 0"
    assert world.releases() == {} and world.status("cache") == {} and world.server.objects(LEASES) == []
    assert all("--dry-run=server" in call.argv for call in world.helm.calls_of("upgrade"))

    assert run_sync(world, Invocation(config)) == ExitCode.CONVERGED
    assert preview(world, Invocation(config), PreviewRequest(detailed_exitcode=True)) == ExitCode.CONVERGED


def test_preview_of_a_blocked_release_exits_1(world: World, config: Path) -> None:
    world.cr("bad", spec=["not", "an", "object"])  # type: ignore[arg-type]
    assert preview(world, Invocation(config), PreviewRequest(detailed_exitcode=True)) == ExitCode.NOT_CONVERGED


def test_preview_of_a_release_that_does_not_render_exits_1(
    world: World, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world.cr("cache")
    world.helm.fail_render("cache", "nil pointer evaluating .Values.image")
    assert preview(world, Invocation(config), PreviewRequest(detailed_exitcode=True)) == ExitCode.NOT_CONVERGED
    assert "nil pointer evaluating .Values.image" in capsys.readouterr().err


# --- 3: config and flags ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("watches: [unclosed\n", "not valid YAML"),
        ("concurrency: 2\n", "missing required field 'watches'"),
        ("watches: []\n", "non-empty list"),
    ],
    ids=["bad-yaml", "no-watches", "empty-watches"],
)
def test_an_invalid_config_exits_3_before_any_cluster_call(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, problem: str
) -> None:
    world.cr("cache")
    bad = tmp_path / "helmcr.yaml"
    bad.write_text(text)
    assert run_sync(world, Invocation(bad)) == ExitCode.CONFIG_ERROR
    assert preview(world, Invocation(bad), PreviewRequest()) == ExitCode.CONFIG_ERROR
    assert problem in capsys.readouterr().err
    assert world.server.requests == [] and world.helm.calls == []


@pytest.mark.parametrize(
    ("flags", "problem"),
    [
        ({"max_uninstalls": "lots"}, "--max-uninstalls"),
        ({"max_uninstalls": "150%"}, "--max-uninstalls"),
        ({"max_uninstalls": "-1"}, "--max-uninstalls"),
        ({"selector": "team"}, "--selector"),
    ],
    ids=["words", "over-100-percent", "negative", "selector-without-value"],
)
def test_an_invalid_flag_exits_3_before_any_cluster_call(
    world: World, config: Path, capsys: pytest.CaptureFixture[str], flags: dict[str, str], problem: str
) -> None:
    world.cr("cache")
    assert run_sync(world, Invocation(config, **flags)) == ExitCode.CONFIG_ERROR  # type: ignore[arg-type]
    assert problem in capsys.readouterr().err
    assert world.server.requests == [] and world.releases() == {}


def test_a_valid_max_uninstalls_flag_is_accepted(world: World, config: Path) -> None:
    world.cr("cache")
    assert run_sync(world, Invocation(config, max_uninstalls="10%")) == ExitCode.CONVERGED


# --- 4: the cluster --------------------------------------------------------------------------------------------


def test_an_unreachable_api_server_exits_4(world: World, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    world.cr("cache")
    world.server.down = True
    assert run_sync(world, Invocation(config, output=Output.json)) == ExitCode.CLUSTER_ERROR
    assert "cannot reach the API server" in report(capsys)["errors"][0]
    assert preview(world, Invocation(config), PreviewRequest(detailed_exitcode=True)) == ExitCode.CLUSTER_ERROR
    world.server.down = False
    assert world.releases() == {} and world.helm.calls == []


def test_a_forbidden_list_exits_4(world: World, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    world.cr("cache")
    world.server.forbid("GET", "memcacheds")
    assert run_sync(world, Invocation(config, output=Output.json)) == ExitCode.CLUSTER_ERROR
    assert "forbidden" in report(capsys)["errors"][0]
    assert preview(world, Invocation(config), PreviewRequest()) == ExitCode.CLUSTER_ERROR
    assert world.releases() == {} and world.helm.calls == []


# --- 5: the lease ----------------------------------------------------------------------------------------------


def hold_lease(server: FakeApiServer, holder: str) -> dict[str, Any]:
    """The run lease (left by an earlier run) as another, live run holds it now."""
    (lease,) = server.objects(LEASES)
    held = {**lease, "spec": {**lease["spec"], "holderIdentity": holder, "renewTime": now_micro()}}
    return server.replace(LEASES, lease["metadata"]["namespace"], lease["metadata"]["name"], held)


def test_a_lease_held_by_another_run_exits_5_and_changes_nothing(
    world: World, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world.cr("cache")
    assert run_sync(world, Invocation(config)) == ExitCode.CONVERGED
    hold_lease(world.server, "ci-runner/7/beef")
    world.edit("cache", {"replicaCount": 3})
    capsys.readouterr()
    assert run_sync(world, Invocation(config)) == ExitCode.LEASE_HELD
    assert "ci-runner/7/beef" in capsys.readouterr().err
    assert world.releases() == {"cache": (1, "deployed")}
    assert len(world.helm.applied("upgrade")) == 1 and world.status("cache")["observedGeneration"] == 1


def test_wait_for_lock_waits_for_the_other_run_to_finish(world: World, config: Path) -> None:
    world.cr("cache")
    run_sync(world, Invocation(config))
    hold_lease(world.server, "ci-runner/7/beef")
    world.edit("cache", {"replicaCount": 3})
    finish = threading.Timer(0.2, hold_lease, args=(world.server, ""))
    finish.start()
    try:
        assert run_sync(world, Invocation(config, wait_for_lock=0.5)) == ExitCode.CONVERGED
    finally:
        finish.cancel()
        finish.join()
    assert world.releases() == {"cache": (2, "deployed")}


# --- 130: stopped by a signal ----------------------------------------------------------------------------------


class SignalledHelm(FakeHelm):
    """Its first helm operation is where the signal arrives (as a pod's SIGTERM or a Ctrl-C would, while helm
    runs); it returns only once the run has reacted, which it sees as the grace timer's ``terminate_all``."""

    def __init__(self, server: FakeApiServer, signum: signal.Signals) -> None:
        super().__init__(server, render=self._signal_once)
        self.signum = signum
        self.terminated = threading.Event()
        self._sent = False

    def _signal_once(self, release: str, namespace: str, values: Mapping[str, Any]) -> str:
        if not self._sent:
            self._sent = True
            main = threading.main_thread().ident
            assert main is not None
            signal.pthread_kill(main, self.signum)  # the main thread runs the handler, as for a real signal
            assert self.terminated.wait(5), "the run did not react to the signal"
        return default_render(release, namespace, values)

    def terminate_all(self) -> int:
        self.terminated.set()
        return super().terminate_all()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_lets_the_running_helm_finish_starts_nothing_new_and_exits_130(
    world: World, config: Path, capsys: pytest.CaptureFixture[str], signum: signal.Signals
) -> None:
    world.helm = SignalledHelm(world.server, signum)
    world.cr("a")
    world.cr("b")
    invocation = Invocation(config, concurrency=1, grace_period=0, output=Output.json)
    code = run_sync(world, invocation)
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert code == ExitCode.INTERRUPTED
    assert f"received {signum.name}" in captured.err
    assert sorted(results(document).values()) == ["not-started", "succeeded"]
    (stopped,) = (name for name, result in results(document).items() if result == "not-started")
    assert "asked to stop" in messages(document)[stopped]
    assert len(world.releases()) == 1 and stopped not in world.releases()
    assert world.server.objects(LEASES)[0]["spec"]["holderIdentity"] == "", "the lease is released on the way out"


# --- saved plans: plan --out, then apply -----------------------------------------------------------------------


def test_apply_runs_the_reviewed_step_of_a_saved_plan(world: World, config: Path, tmp_path: Path) -> None:
    world.cr("cache")
    plan = tmp_path / "plan.json"
    assert preview(world, Invocation(config), PreviewRequest(save_to=plan)) == ExitCode.CONVERGED
    assert [step["release"]["name"] for step in json.loads(plan.read_text())["steps"]] == ["cache"]
    assert world.releases() == {}, "making the plan changes nothing"
    assert run_apply(Invocation(config), plan, adapters=world.adapters()) == ExitCode.CONVERGED
    assert world.releases() == {"cache": (1, "deployed")}


def test_apply_holds_a_step_changed_since_the_plan_and_one_not_in_it(
    world: World, config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world.cr("reviewed")
    world.cr("edited")
    plan = tmp_path / "plan.json"
    assert preview(world, Invocation(config), PreviewRequest(save_to=plan)) == ExitCode.CONVERGED
    world.edit("edited", {"replicaCount": 5})
    world.cr("newcomer")
    capsys.readouterr()
    code = run_apply(Invocation(config, output=Output.json), plan, adapters=world.adapters())
    document = report(capsys)
    assert code == ExitCode.NOT_CONVERGED
    assert results(document) == {"edited": "not-started", "newcomer": "not-started", "reviewed": "succeeded"}
    assert "changed since the plan was made" in messages(document)["edited"]
    assert "not in the reviewed plan" in messages(document)["newcomer"]
    assert world.releases() == {"reviewed": (1, "deployed")}


@pytest.mark.parametrize("content", [None, "{not json", '{"apiVersion": "v1", "kind": "ConfigMap"}'])
def test_apply_of_a_file_that_is_not_a_saved_plan_exits_3(
    world: World, config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None
) -> None:
    plan = tmp_path / "plan.json"
    if content is not None:
        plan.write_text(content)
    assert run_apply(Invocation(config), plan, adapters=world.adapters()) == ExitCode.CONFIG_ERROR
    assert str(plan) in capsys.readouterr().err
    assert world.server.requests == []


# --- -o json ---------------------------------------------------------------------------------------------------


def test_json_output_of_a_sync_has_summary_outcomes_and_stats(
    world: World, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world.cr("cache")
    assert run_sync(world, Invocation(config, output=Output.json)) == ExitCode.CONVERGED
    document = report(capsys)
    assert document["kind"] == "SyncReport"
    assert document["summary"]["installed"] == 1 and document["summary"]["failed"] == 0
    (outcome,) = document["outcomes"]
    assert (outcome["release"], outcome["action"], outcome["result"], outcome["revision"]) == (
        {"namespace": "team-a", "name": "cache"},
        "install",
        "succeeded",
        1,
    )
    assert document["stats"]["apiRequests"] == world.kube.requests > 0
    # helm's version (asked once per run: Helm 4 takes other flags), the object check's dry run, then the install
    assert document["stats"]["helmProcesses"] == world.helm.processes == len(world.helm.calls) == 3

    assert run_sync(world, Invocation(config, output=Output.json)) == ExitCode.CONVERGED
    quiet = report(capsys)
    assert quiet["summary"]["inSync"] == 1
    assert (quiet["stats"]["apiRequests"], quiet["stats"]["helmProcesses"]) == (2, 0), "counted per run"


def test_json_output_of_a_preview_adds_the_diff(world: World, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    world.cr("cache")
    assert preview(world, Invocation(config, output=Output.json), PreviewRequest()) == ExitCode.CONVERGED
    document = report(capsys)
    assert results(document) == {"cache": "not-started"}
    assert "diff" in document and document["stats"]["helmProcesses"] == world.helm.processes >= 1


# --- exit_code and preview_exit_code: which reason wins --------------------------------------------------------


def outcome(result: Result, action: Action = Action.INSTALL) -> Outcome:
    return Outcome(Step(ReleaseKey("team-a", "cache"), action, State.ABSENT, "test"), result)


CLUSTER = KindError("Memcached.anywhere.io/v1alpha1", "forbidden", cluster=True)
CHART_MISSING = KindError("Memcached.anywhere.io/v1alpha1", "chart not found", cluster=False)


@pytest.mark.parametrize(
    ("summary", "expected"),
    [
        (RunSummary(), ExitCode.CONVERGED),
        (RunSummary(outcomes=(outcome(Result.SUCCEEDED), outcome(Result.SKIPPED, Action.SKIP))), ExitCode.CONVERGED),
        (RunSummary(outcomes=(outcome(Result.FAILED),)), ExitCode.NOT_CONVERGED),
        (RunSummary(outcomes=(outcome(Result.BLOCKED, Action.BLOCKED),)), ExitCode.NOT_CONVERGED),
        (RunSummary(outcomes=(outcome(Result.NOT_STARTED),)), ExitCode.NOT_CONVERGED),
        (RunSummary(status_errors=("cache: could not write status",)), ExitCode.NOT_CONVERGED),
        (RunSummary(kind_errors=(CHART_MISSING,)), ExitCode.NOT_CONVERGED),
        (RunSummary(outcomes=(outcome(Result.FAILED),), kind_errors=(CHART_MISSING, CLUSTER)), ExitCode.CLUSTER_ERROR),
    ],
    ids=["empty", "ok", "failed", "blocked", "not-started", "status", "chart", "cluster-wins"],
)
def test_exit_code(summary: RunSummary, expected: ExitCode) -> None:
    assert exit_code(summary) == expected


@pytest.mark.parametrize(
    ("summary", "problems", "detailed", "expected"),
    [
        (RunSummary(outcomes=(outcome(Result.NOT_STARTED),)), (), True, ExitCode.CHANGES_PENDING),
        (RunSummary(outcomes=(outcome(Result.NOT_STARTED),)), (), False, ExitCode.CONVERGED),
        (RunSummary(), (), True, ExitCode.CONVERGED),
        (RunSummary(), ("cache: did not render",), True, ExitCode.NOT_CONVERGED),
        (RunSummary(outcomes=(outcome(Result.BLOCKED, Action.BLOCKED),)), (), True, ExitCode.NOT_CONVERGED),
        (RunSummary(kind_errors=(CLUSTER,)), ("cache: did not render",), True, ExitCode.CLUSTER_ERROR),
    ],
    ids=["pending-detailed", "pending-plain", "nothing", "render-problem", "blocked", "cluster-wins"],
)
def test_preview_exit_code(summary: RunSummary, problems: tuple[str, ...], detailed: bool, expected: ExitCode) -> None:
    pending = any(o.result is Result.NOT_STARTED for o in summary.outcomes)
    result = Preview(diffs=(object(),) if pending else (), problems=problems)  # type: ignore[arg-type]
    assert preview_exit_code(summary, result, detailed) == expected


def test_the_table_shows_what_changed_and_counts_what_is_in_sync(
    world: World, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("quiet-a", "quiet-b", "edited"):
        world.cr(name)
    run_sync(world, Invocation(config))
    world.edit("edited", {"replicaCount": 2})
    capsys.readouterr()
    assert run_sync(world, Invocation(config)) == ExitCode.CONVERGED
    text = capsys.readouterr().out
    assert "edited" in text and "upgrade" in text
    assert "quiet-a" not in text and "quiet-b" not in text, "a release in sync is a count, not a row"
    assert "0 installed, 1 upgraded, 0 uninstalled, 2 in sync" in text


def test_the_json_report_holds_one_outcome_per_line(
    world: World, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("a", "b"):
        world.cr(name)
    run_sync(world, Invocation(config, output=Output.json))
    text = capsys.readouterr().out
    document = json.loads(text)
    assert [o["name"] for o in document["outcomes"]] == ["a", "b"]
    assert sum(1 for line in text.splitlines() if line.lstrip().startswith('{"kind": "Memcached"')) == 2
