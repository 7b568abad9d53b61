"""The preview on the fakes: it decides exactly what a run would and changes nothing, online and offline."""

from __future__ import annotations

from pathlib import Path

import yaml

from reconcile.model import Result, RunSummary
from reconcile.observe import ClusterSource, OfflineSource
from reconcile.preview import Preview, PreviewSettings
from reconcile.settings import RunOptions, Scope
from reconcile.sync import preview_run
from tests.unit.world import NAMESPACE, World

WRITES = ("POST", "PUT", "PATCH", "DELETE")


def preview(world: World, **settings: bool) -> tuple[RunSummary, Preview]:
    source = ClusterSource(world.kube, Scope(), world.config.page_size)
    summary, result, _ = preview_run(world.config, source, world.helm, RunOptions(), PreviewSettings(**settings))
    return summary, result


def test_the_preview_shows_the_change_and_writes_nothing() -> None:
    world = World()
    world.cr("cache")
    world.sync()
    world.edit("cache", {"replicaCount": 3})
    before = len(world.server.requests)
    summary, result = preview(world)
    assert [o.result for o in summary.outcomes] == [Result.NOT_STARTED]
    assert not [r for r in world.server.requests[before:] if r.method in WRITES]
    assert [c.command for c in world.helm.calls[-1:]] == ["upgrade"] and "--dry-run=server" in world.helm.calls[-1].argv
    (diff,) = result.diffs
    assert [(v.path, v.old, v.new) for v in diff.values] == [("replicaCount", 1, 3)]
    assert world.releases() == {"cache": (1, "deployed")}


def test_secrets_stay_hidden_in_the_preview_unless_asked() -> None:
    world = World()
    world.cr("cache", {"auth": {"password": "first-secret"}})
    world.sync()
    world.edit("cache", {"auth": {"password": "second-secret"}})
    _, hidden = preview(world)
    assert "second-secret" not in repr(hidden) and "first-secret" not in repr(hidden)
    _, shown = preview(world, show_secrets=True)
    assert "second-secret" in repr(shown)


def test_offline_the_base_files_stand_for_what_is_deployed(tmp_path: Path) -> None:
    world = World()

    def cr_file(name: str, replicas: int) -> Path:
        path = tmp_path / f"{name}.yaml"
        body = {"apiVersion": "anywhere.io/v1alpha1", "kind": "Memcached",
                "metadata": {"name": "cache", "namespace": NAMESPACE}, "spec": {"replicaCount": replicas}}  # fmt: skip
        path.write_text(yaml.safe_dump(body))
        return path

    source = OfflineSource(Scope(), (cr_file("base", 1),), (cr_file("pr", 2),))
    summary, result, _ = preview_run(world.config, source, world.helm, RunOptions(), PreviewSettings(client_side=True))
    assert [str(o.step.action) for o in summary.outcomes] == ["upgrade"]
    assert world.server.requests == [], "offline means no cluster at all"
    assert {c.command for c in world.helm.calls} == {"template"}
    assert [(v.path, v.old, v.new) for v in result.diffs[0].values] == [("replicaCount", 1, 2)]
