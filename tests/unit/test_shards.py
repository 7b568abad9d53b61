"""Shards: n runs split one fleet by CR UID, each with its own lease; none touches another's releases, for any n."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconcile.adapters.kube import SECRETS
from reconcile.errors import ConfigError
from reconcile.labels import LABEL_OWNER_UID
from reconcile.model import Action, State
from reconcile.runner import parse_shard
from reconcile.settings import Portion, RunOptions, Scope
from reconcile.shards import Shard, shard_of
from tests.unit.fakes import LEASES
from tests.unit.world import CACHES, NAMESPACE, World


def sharded(index: int, count: int) -> RunOptions:
    return RunOptions(scope=Scope(shard=Shard(index, count)))


def test_shard_flags_are_index_over_count_counted_from_zero() -> None:
    assert parse_shard("2/3") == Shard(2, 3)
    assert parse_shard("") == Shard()
    for wrong in ("3/3", "1", "a/3", "-1/3", "1/0", "$(JOB_COMPLETION_INDEX)/3", "\u00b2/3"):
        with pytest.raises(ConfigError, match="expected INDEX/COUNT"):
            parse_shard(wrong)


@given(st.lists(st.uuids().map(str), min_size=1, max_size=50, unique=True), st.integers(1, 7))
def test_every_uid_belongs_to_exactly_one_shard(uids: list[str], count: int) -> None:
    for uid in uids:
        assert [index for index in range(count) if Shard(index, count).owns(uid)] == [shard_of(uid, count)]


def test_n_shards_install_every_cr_once_and_only_their_own() -> None:
    world = World()
    names = [f"cache-{i}" for i in range(30)]
    for name in names:
        world.cr(name)
    installed: list[str] = []
    processes = 0
    for index in range(3):
        summary = world.sync(sharded(index, 3))
        mine = [o.step.key.name for o in summary.outcomes if o.step.action is Action.INSTALL]
        assert all(o.ok for o in summary.outcomes)
        assert 0 < len(mine) < len(names), "a shard takes a part of the fleet"
        installed += mine
        processes += world.helm.processes
    assert sorted(installed) == sorted(names), "each CR installed by exactly one shard"
    whole = World()
    for name in names:
        whole.cr(name)
    whole.sync()
    assert processes <= whole.helm.processes + 2, "splitting costs no helm process per release"
    assert {lease["metadata"]["name"].rsplit("-shard-", 1)[1] for lease in world.server.objects(LEASES)} == {
        "0-of-3",
        "1-of-3",
        "2-of-3",
    }, "each shard takes a lease of its own"


def test_a_deleted_crs_release_is_uninstalled_by_its_shard_only_whatever_the_count() -> None:
    world = World()
    names = [f"cache-{i}" for i in range(10)]
    for name in names:
        world.cr(name)
    world.sync()
    gone = names[:4]
    for name in gone:
        world.delete(name)
    for count in (2, 3):  # the fleet re-split between runs: still exactly the deleted CRs' releases go
        for index in range(count):
            summary = world.sync(sharded(index, count))
            for outcome in summary.outcomes:
                step = outcome.step
                if step.key.name in gone and step.action is Action.UNINSTALL:
                    assert step.owner is not None and Shard(index, count).owns(step.owner.uid)
                elif step.key.name in gone:
                    assert step.state in (State.OTHER_SHARD,), step
                else:
                    assert step.action is Action.SKIP, step
        assert set(world.releases()) == set(names[4:])
        for name in gone:  # put them back for the next count
            world.cr(name)
        world.sync()
        for name in gone:
            world.delete(name)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 5), st.integers(1, 5))
def test_no_shard_of_any_count_uninstalls_a_release_whose_cr_exists(old: int, new: int) -> None:
    world = World()
    for i in range(6):
        world.cr(f"cache-{i}")
    for index in range(old):
        world.sync(sharded(index, old))
    for index in range(new):
        summary = world.sync(sharded(index, new))
        assert not [o for o in summary.outcomes if o.step.action.ends_in is Action.UNINSTALL]
    assert len(world.releases()) == 6


@pytest.mark.parametrize("count", [2, 3, 5])
def test_a_cr_created_again_is_taken_over_by_its_new_shard_never_uninstalled_by_its_old_one(count: int) -> None:
    world = World()
    names = [f"cache-{i}" for i in range(20)]
    for name in names:
        world.cr(name)
    world.sync()
    old = {name: uid_of(world, name) for name in names}
    for name in names:  # a new UID each: the hash moves about half of them or more to another shard
        world.delete(name)
        world.cr(name)
    assert [n for n in names if shard_of(old[n], count) != shard_of(uid_of(world, n), count)]
    for index in range(count):
        summary = world.sync(sharded(index, count))
        assert not [o for o in summary.outcomes if o.step.action.ends_in is Action.UNINSTALL], summary.outcomes
    assert set(world.releases()) == set(names)
    owners = {r["metadata"]["labels"]["name"]: r["metadata"]["labels"][LABEL_OWNER_UID] for r in latest_records(world)}
    assert owners == {name: uid_of(world, name) for name in names}, "each new CR took its release over"


def uid_of(world: World, name: str) -> str:
    return str(world.server.get(CACHES, NAMESPACE, name)["metadata"]["uid"])


def latest_records(world: World) -> list[dict[str, Any]]:
    records = [r for r in world.server.objects(SECRETS, NAMESPACE) if r["metadata"]["labels"].get("owner") == "helm"]
    latest = {
        r["metadata"]["labels"]["name"]: r
        for r in sorted(records, key=lambda r: int(r["metadata"]["labels"]["version"]))
    }
    return list(latest.values())


def test_a_percentage_uninstall_budget_is_a_share_of_the_shards_own_releases() -> None:
    world = World()
    names = [f"cache-{i}" for i in range(40)]
    for name in names:
        world.cr(name)
    world.sync()
    shard = {name: shard_of(uid_of(world, name), 4) for name in names}
    for name in names[:20]:  # half the fleet gone: most shards lost more than 25% of their part
        world.delete(name)
    for index in range(4):
        own = [n for n in names if shard[n] == index]
        gone = [n for n in own if n in names[:20]]
        options = RunOptions(scope=Scope(shard=Shard(index, 4)), max_uninstalls=Portion(percent=25))
        summary = world.sync(options)
        uninstalled = sorted(o.step.key.name for o in summary.outcomes if o.step.action is Action.UNINSTALL and o.ok)
        assert uninstalled == (sorted(gone) if len(gone) <= len(own) // 4 else []), (index, len(own), gone)
