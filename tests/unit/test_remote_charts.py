"""Remote charts on the fakes: one pull per run and chart version, every helm of the run given the archive, and a
failed pull failing only the releases that need it, each with one message, none of them touched."""

from __future__ import annotations

import errno
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from reconcile import pulls as run_pulls
from reconcile.adapters.kube import SECRETS, ResourceType
from reconcile.charts import pulled_chart, resolve_chart
from reconcile.errors import ExitCode
from reconcile.exits import exit_code
from reconcile.model import Result, RunSummary
from reconcile.observe import ClusterSource
from reconcile.preview import PreviewSettings
from reconcile.settings import Config, RunOptions, Scope, Watch
from reconcile.sync import preview_run
from tests.unit.fakes import FakeHelm, HelmCall
from tests.unit.fakes.charts import ChartSources
from tests.unit.world import CHART, World

OCI = "oci://registry.test/team/memcached"
REPO = "https://charts.test/team"
PASSWORD = "s3cr3t-repository-pw"
LEAKY_CHART = Path(__file__).resolve().parents[1] / "fixtures" / "charts" / "leaky"


def remote_world(
    chart: str = OCI, version: str = "0.1.0", repo: str = "", base_env: dict[str, str] | None = None, major: int = 3
) -> World:
    world = World()
    world.helm = FakeHelm(world.server, major=major, base_env=base_env)
    world.watch = replace(world.watch, chart=chart, chart_version=version, repo=repo)
    return world


def publish(world: World, *versions: str) -> None:
    for version in versions:
        if world.watch.repo:
            world.helm.sources.publish(world.watch.chart, version, repo=world.watch.repo)
        else:
            world.helm.sources.publish(world.watch.chart, version)


def repositories_file(tmp_path: Path, url: str = REPO) -> dict[str, str]:
    """A repositories.yaml as ``helm repo add --password-stdin`` writes it, and the environment that names it."""
    path = tmp_path / "repositories.yaml"
    entry = {"name": "private", "url": url, "username": "helmcr", "password": PASSWORD}
    path.write_text(yaml.safe_dump({"apiVersion": "", "repositories": [entry]}))
    return {"HELM_REPOSITORY_CONFIG": str(path), "HOME": str(tmp_path)}


def results(summary: RunSummary) -> dict[str, tuple[str, str]]:
    return {o.step.key.name: (str(o.step.action), str(o.result)) for o in summary.outcomes}


def pulls(world: World) -> list[HelmCall]:
    return world.helm.calls_of("pull")


def charts_given(world: World) -> set[str]:
    """The chart argument of every install, upgrade and dry run."""
    return {call.argv[3] for call in world.helm.calls_of("upgrade")}


def test_an_oci_chart_is_pulled_once_per_run_and_every_helm_is_given_the_archive() -> None:
    world = remote_world()
    publish(world, "0.1.0", "0.2.0")
    for name in ("a", "b", "c"):
        world.cr(name)
    first = world.sync(RunOptions(concurrency=3))
    assert results(first) == {n: ("install", "succeeded") for n in "abc"}
    (pull,) = pulls(world)
    assert pull.argv[:4] == ["pull", OCI, "--version", "0.1.0"]
    (archive,) = charts_given(world)
    assert archive.endswith("/memcached-0.1.0.tgz") and archive.startswith(pull.argv[5])
    assert not Path(archive).exists(), "the run's scratch directory is removed when the run ends"
    assert world.helm.processes == 8  # one pull, helm version, then a dry run and an install for each release
    assert (world.status("a")["chart"], world.status("a")["chartVersion"]) == ("memcached", "0.1.0")

    world.helm.calls.clear()
    assert results(world.sync()) == {n: ("skip", "skipped") for n in "abc"}
    assert world.helm.processes == 0, "nothing to change: no pull, no helm at all"

    world.watch = replace(world.watch, chart_version="0.2.0")
    bumped = world.sync(RunOptions(concurrency=3))
    assert results(bumped) == {n: ("upgrade", "succeeded") for n in "abc"}
    assert [call.argv[3] for call in pulls(world)] == ["0.2.0"]
    assert {Path(chart).name for chart in charts_given(world)} == {"memcached-0.2.0.tgz"}
    assert world.releases() == {n: (2, "deployed") for n in "abc"}


def test_a_refused_pull_fails_each_release_once_touches_none_and_other_kinds_go_on() -> None:
    world = remote_world()
    publish(world, "0.1.0", "0.2.0")
    for name in ("a", "b", "c"):
        world.cr(name)
    world.sync()
    local = Watch(group="anywhere.io", version="v1alpha1", kind="Widget", chart=str(CHART))
    widgets = ResourceType("anywhere.io", "v1alpha1", "widgets")
    world.server.add_crd(widgets, kind="Widget")
    world.server.create(widgets, "team-a", {"apiVersion": "anywhere.io/v1alpha1", "kind": "Widget",
                                            "metadata": {"name": "w"}, "spec": {}})  # fmt: skip
    records = {s["metadata"]["name"]: s["metadata"]["resourceVersion"] for s in world.server.objects(SECRETS)}
    world.helm.calls.clear()
    world.helm.fail_pull(OCI, 'GET "https://registry.test/v2/team/memcached/manifests/0.2.0": response status '
                         "code 401: unauthorized: authentication required", times=5)  # fmt: skip
    config = Config(path=CHART.parent / "helmcr.yaml", watches=(replace(world.watch, chart_version="0.2.0"), local))

    summary = world.sync_config(config)

    failed = [o for o in summary.outcomes if o.result is Result.FAILED]
    assert sorted(o.step.key.name for o in failed) == ["a", "b", "c"]
    assert {o.message for o in failed} == {
        f'chart {OCI} 0.2.0 could not be pulled: GET "https://registry.test/v2/team/memcached/manifests/0.2.0": '
        "response status code 401: unauthorized: authentication required"
    }
    assert {o.error for o in failed} == {"pull-failed"}
    assert len(pulls(world)) == 1, "the failure is remembered for the run: one refused login, not one per release"
    assert [c.argv[2] for c in world.helm.calls_of("upgrade")] == ["w", "w"], "only the other kind's release"
    assert {s["metadata"]["name"]: s["metadata"]["resourceVersion"] for s in world.server.objects(SECRETS)
            if ".w." not in s["metadata"]["name"]} == records  # fmt: skip
    assert exit_code(summary) == ExitCode.NOT_CONVERGED
    ready = world.ready("a")
    assert (ready["status"], ready["reason"]) == ("False", "UpgradeFailed")
    assert "could not be pulled" in ready["message"] and "401" in ready["message"]


def test_an_uninstall_needs_no_chart_and_pulls_nothing() -> None:
    world = remote_world()
    publish(world, "0.1.0")
    world.cr("a")
    world.sync()
    world.delete("a")
    world.helm.calls.clear()
    world.helm.fail_pull(OCI, "registry down", times=5)
    assert results(world.sync()) == {"a": ("uninstall", "succeeded")}
    assert pulls(world) == []


def test_a_repository_with_an_entry_is_indexed_into_the_runs_scratch_and_pulled_by_entry_name(tmp_path: Path) -> None:
    world = remote_world(chart="memcached", repo=REPO, base_env=repositories_file(tmp_path))
    publish(world, "0.1.0")
    world.cr("a")
    world.cr("b")
    assert results(world.sync()) == {"a": ("install", "succeeded"), "b": ("install", "succeeded")}
    update, pull = world.helm.calls[:2]
    assert update.argv == ["repo", "update", "private"]
    assert pull.argv[:4] == ["pull", "private/memcached", "--version", "0.1.0"]
    assert update.env["HELM_REPOSITORY_CACHE"] == pull.env["HELM_REPOSITORY_CACHE"] != ""
    assert update.env["HELM_REPOSITORY_CONFIG"] == str(tmp_path / "repositories.yaml")
    assert world.helm.processes == 7 and not any(PASSWORD in " ".join(c.argv) for c in world.helm.calls)


def test_a_repository_without_an_entry_is_taken_for_public(tmp_path: Path) -> None:
    world = remote_world(chart="memcached", repo="https://public.test/charts", base_env={"HOME": str(tmp_path)})
    publish(world, "0.1.0")
    world.cr("a")
    assert results(world.sync()) == {"a": ("install", "succeeded")}
    (pull,) = pulls(world)
    assert pull.argv[:4] == ["pull", "memcached", "--repo", "https://public.test/charts"]
    assert world.helm.calls_of("repo") == []


@pytest.mark.parametrize("major", [3, 4])
def test_an_index_that_cannot_be_fetched_fails_with_its_cause_and_no_password(tmp_path: Path, major: int) -> None:
    world = remote_world(chart="memcached", repo=REPO, base_env=repositories_file(tmp_path), major=major)
    publish(world, "0.1.0")
    world.cr("a")
    world.cr("b")
    cause = f"failed to fetch {REPO}/index.yaml (password {PASSWORD}) : 401 Unauthorized"
    world.helm.fail_repo_update("private", cause)
    summary = world.sync()
    messages = {o.message for o in summary.outcomes}
    assert messages == {
        f"chart memcached 0.1.0 from {REPO} could not be pulled: failed to fetch {REPO}/index.yaml (password ***) "
        ": 401 Unauthorized"
    }
    assert [c.command for c in world.helm.calls] == ["repo"], "one index fetch for the run, then nothing"
    assert world.releases() == {}


def test_a_version_missing_from_the_index_names_chart_and_version(tmp_path: Path) -> None:
    world = remote_world(chart="memcached", repo=REPO, version="9.9.9", base_env=repositories_file(tmp_path))
    publish(world, "0.1.0")
    world.cr("a")
    (outcome,) = world.sync().outcomes
    assert outcome.message == (
        f'chart memcached 9.9.9 from {REPO} could not be pulled: chart "memcached" matching 9.9.9 not found in '
        "private index. (try 'helm repo update'): no chart version found for memcached-9.9.9"
    )


def test_the_preview_pulls_once_and_renders_the_archive() -> None:
    world = remote_world()
    publish(world, "0.1.0")
    for name in ("a", "b"):
        world.cr(name)
    source = ClusterSource(world.kube, Scope(), world.config.page_size)
    summary, result, _ = preview_run(world.config, source, world.helm, RunOptions(), PreviewSettings())
    assert [str(o.step.action) for o in summary.outcomes] == ["install", "install"]
    assert len(pulls(world)) == 1 and len(result.diffs) == 2 and result.problems == ()
    assert {Path(chart).name for chart in charts_given(world)} == {"memcached-0.1.0.tgz"}


def test_a_pulled_chart_keeps_the_references_identity_and_reads_its_schema(tmp_path: Path) -> None:
    remote = resolve_chart(Watch("g", "v1", "K", chart=OCI, chart_version="1.0.0"), tmp_path)
    sources = ChartSources()
    sources.publish(OCI, "1.0.0", chart=LEAKY_CHART)
    (tmp_path / "d").mkdir()
    local = pulled_chart(remote, sources.pull("", OCI, "1.0.0", tmp_path / "d"))
    assert (local.identity, local.name, local.version) == (remote.identity, "memcached", "1.0.0")
    assert not local.pinned and local.source == str(tmp_path / "d" / "memcached-1.0.0.tgz")
    assert local.secret_paths and not remote.secret_paths


def test_a_run_of_local_charts_makes_no_scratch_and_a_full_tmpdir_fails_the_pull(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[str] = []

    def no_space(*args: object, **kwargs: object) -> str:
        made.append("mkdtemp")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(run_pulls, "tempfile", SimpleNamespace(mkdtemp=no_space))  # helm's own temp dirs still work
    local = World()
    local.cr("a")
    assert results(local.sync()) == {"a": ("install", "succeeded")} and made == []

    world = remote_world()
    publish(world, "0.1.0")
    world.cr("a")
    world.cr("b")
    assert {o.message for o in world.sync().outcomes} == {
        f"chart {OCI} 0.1.0 could not be pulled: No space left on device"
    }
    assert made == ["mkdtemp"] and world.helm.processes == 0
